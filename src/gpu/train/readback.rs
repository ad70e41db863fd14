//! The engine's asynchronous readbacks: statistics from the ring, weight syncs and held-out
//! evaluations, each a copy into a staging buffer mapped without blocking (natively the device
//! is polled; browsers deliver the map callbacks themselves). At most one of each is in flight.

use std::sync::{Arc, Mutex};

use super::{e, BatchData, Engine, EvalPending, Flag, Pending, RawEval, RawStep, RawSync, R, RING, SLOT};
use crate::gpu::cross_entropy::STATS_LEN;

impl Engine {
    fn map(
        &self,
        label: &str,
        bytes: u64,
        copies: &[(&wgpu::Buffer, u64, u64)],
    ) -> (wgpu::Buffer, Flag<Result<(), String>>) {
        let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc =
            self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        for &(src, at, len) in copies {
            enc.copy_buffer_to_buffer(src, 0, &staging, at, len);
        }
        self.ctx.queue.submit([enc.finish()]);
        let done: Flag<Result<(), String>> = Arc::new(Mutex::new(None));
        let flag = done.clone();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            *flag.lock().unwrap() = Some(r.map_err(|e| e.to_string()))
        });
        (staging, done)
    }

    /// Start reading back the statistics of the steps submitted since the last readback
    /// (one at a time; a no-op while one is in flight or nothing is new).
    pub fn start_readback(&mut self) {
        if self.readback.is_some() || self.step == self.read {
            return;
        }
        let bytes = (RING * SLOT * 4) as u64;
        let (staging, done) = self.map("stats readback", bytes, &[(&self.ring, 0, bytes)]);
        self.submits += 1;
        self.readback = Some(Pending { staging, done, first: self.read, count: self.step - self.read });
    }

    /// `start_readback` when none is in flight: called after every submission, so the
    /// browser's charts get each step soon after the GPU ran it.
    pub fn keep_reading(&mut self) {
        self.start_readback();
    }

    /// Drive wgpu's callbacks (natively the device must be polled; browsers do it themselves).
    fn pump(&self, wait: bool) -> R<()> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            let how = if wait { wgpu::PollType::wait_indefinitely() } else { wgpu::PollType::Poll };
            self.ctx.device.poll(how).map_err(|err| format!("GPU engine: poll: {err}"))?;
        }
        let _ = wait;
        Ok(())
    }

    /// The statistics of a finished readback, oldest first (empty while none is ready).
    pub fn poll_stats(&mut self, wait: bool) -> R<Vec<RawStep>> {
        let Some(p) = &self.readback else { return Ok(Vec::new()) };
        self.pump(wait)?;
        let Some(res) = p.done.lock().unwrap().take() else { return Ok(Vec::new()) };
        let p = self.readback.take().expect("checked above");
        res.map_err(|err| format!("GPU engine: reading the step statistics: {err}"))?;
        let ring: Vec<f32> = {
            let view = p
                .staging
                .slice(..)
                .get_mapped_range()
                .map_err(|err| format!("GPU engine: mapping a readback: {err}"))?;
            bytemuck::cast_slice(&view).to_vec()
        };
        p.staging.unmap();
        Ok(self.deliver(&ring, p.first + p.count))
    }

    /// The statistics in a copy of the ring for the undelivered steps before `end`.
    fn deliver(&mut self, ring: &[f32], end: usize) -> Vec<RawStep> {
        let stats = (self.read..end)
            .map(|s| {
                let x = &ring[(s % RING) * SLOT..][..SLOT];
                RawStep { index: s, loss: x[0], correct: x[1], scored: x[3], grad_norm: x[4] }
            })
            .collect();
        self.read = self.read.max(end);
        stats
    }

    /// Read back every submitted step's statistics, waiting (native tools and tests).
    pub fn wait_stats(&mut self) -> R<Vec<RawStep>> {
        let mut out = Vec::new();
        while self.read < self.step || self.readback.is_some() {
            self.start_readback();
            out.extend(self.poll_stats(true)?);
        }
        Ok(out)
    }

    /// Start copying the weights and Adam moments as they are after the last submitted step,
    /// with the statistics ring, so a completed sync also delivers every step up to it.
    pub fn start_sync(&mut self) {
        if self.sync.is_some() {
            return;
        }
        let len = (self.layout.total * 4) as u64;
        let ring = (RING * SLOT * 4) as u64;
        let copies = [
            (&self.params, 0, len),
            (&self.m, len, len),
            (&self.v, 2 * len, len),
            (&self.ring, 3 * len, ring),
        ];
        let (staging, done) = self.map("weights sync", 3 * len + ring, &copies);
        self.submits += 1;
        self.sync = Some(Pending { staging, done, first: self.step, count: 0 });
    }

    pub fn sync_pending(&self) -> bool {
        self.sync.is_some()
    }

    /// A finished sync's weights and moments (None while it is in flight or none was started).
    pub fn poll_sync(&mut self, wait: bool) -> R<Option<RawSync>> {
        let Some(p) = &self.sync else { return Ok(None) };
        self.pump(wait)?;
        let Some(res) = p.done.lock().unwrap().take() else { return Ok(None) };
        let p = self.sync.take().expect("checked above");
        res.map_err(|err| format!("GPU engine: reading the weights back: {err}"))?;
        let all: Vec<f32> = {
            let view = p
                .staging
                .slice(..)
                .get_mapped_range()
                .map_err(|err| format!("GPU engine: mapping a readback: {err}"))?;
            bytemuck::cast_slice(&view).to_vec()
        };
        p.staging.unmap();
        let t = self.layout.total;
        let stats = self.deliver(&all[3 * t..], p.first);
        Ok(Some(RawSync {
            step: p.first,
            params: all[..t].to_vec(),
            m: all[t..2 * t].to_vec(),
            v: all[2 * t..3 * t].to_vec(),
            stats,
        }))
    }

    /// Weights and moments after the last submitted step, waiting (native tools and tests).
    pub fn wait_sync(&mut self) -> R<RawSync> {
        self.start_sync();
        loop {
            if let Some(s) = self.poll_sync(true)? {
                return Ok(s);
            }
        }
    }

    /// Evaluate the weights as they are after the last submitted step on `chunks` (each a
    /// full batch; pad the last with unscored rows): one submission per chunk, every chunk's
    /// statistics and correct flags gathered on the GPU and mapped once.
    pub fn start_eval(&mut self, chunks: &[BatchData]) -> R<()> {
        if self.pending_eval.is_some() {
            return Err("GPU engine: an evaluation is already under way".into());
        }
        let flags = if self.eval.correct.is_some() { self.dims.scored() } else { 0 };
        let stride = STATS_LEN + flags;
        let results =
            self.ctx.output_f32("GPU engine", "eval.results", chunks.len().max(1) * stride).map_err(e)?;
        for (k, chunk) in chunks.iter().enumerate() {
            self.write_inputs(chunk)?;
            let mut enc = self
                .ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("eval chunk") });
            self.eval.program.encode(&self.ctx, &mut enc).map_err(e)?;
            let at = (k * stride * 4) as u64;
            enc.copy_buffer_to_buffer(&self.eval.stats, 0, &results, at, (STATS_LEN * 4) as u64);
            if let Some(c) = &self.eval.correct {
                enc.copy_buffer_to_buffer(c, 0, &results, at + (STATS_LEN * 4) as u64, (flags * 4) as u64);
            }
            self.ctx.queue.submit([enc.finish()]);
            self.submits += 1;
        }
        let bytes = (chunks.len().max(1) * stride * 4) as u64;
        let (staging, done) = self.map("eval readback", bytes, &[(&results, 0, bytes)]);
        self.submits += 1;
        self.pending_eval = Some(EvalPending {
            map: Pending { staging, done, first: self.step, count: 0 },
            chunks: chunks.len(),
            stride,
        });
        Ok(())
    }

    pub fn eval_pending(&self) -> bool {
        self.pending_eval.is_some()
    }

    /// A finished evaluation's raw results (None while it is in flight or none was started).
    pub fn poll_eval(&mut self, wait: bool) -> R<Option<RawEval>> {
        let Some(p) = &self.pending_eval else { return Ok(None) };
        self.pump(wait)?;
        let Some(res) = p.map.done.lock().unwrap().take() else { return Ok(None) };
        let p = self.pending_eval.take().expect("checked above");
        res.map_err(|err| format!("GPU engine: reading the evaluation back: {err}"))?;
        let all: Vec<f32> = {
            let view = p
                .map
                .staging
                .slice(..)
                .get_mapped_range()
                .map_err(|err| format!("GPU engine: mapping a readback: {err}"))?;
            bytemuck::cast_slice(&view).to_vec()
        };
        p.map.staging.unmap();
        Ok(Some(RawEval {
            step: p.map.first,
            chunks: all.chunks(p.stride).take(p.chunks).map(<[f32]>::to_vec).collect(),
        }))
    }
}
