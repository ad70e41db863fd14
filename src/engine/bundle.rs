//! Run bundles: one file that holds a whole run — its config and seed, its weights, the
//! optimiser's moments (so training continues exactly where it stopped), its metrics as CSV
//! and its share link. The file is a safetensors checkpoint (any safetensors reader opens
//! the weights; `interlab eval --checkpoint` too) with the optimiser state as `optim.m.NAME`
//! / `optim.v.NAME` tensors and the rest in the header's one `interlab` entry:
//! `{"config", "version", "step", "backend"?, "bundle": {"format", "optim_t", "metrics_csv", "link"}}`.
//! The tab exports and imports it (file picker or drag and drop); the CLI reads it
//! (`interlab bundle show`, `interlab train --from`).

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use serde_json::json;

use super::history::History;
use super::Trainer;
use crate::core::csv::{parse, Table};
use crate::core::TrainConfig;
use crate::model::checkpoint::OPTIM_PREFIX;

/// The bundle format this lab writes and reads.
pub const FORMAT: u64 = 1;

/// What a bundle says about its run, read from the header alone.
#[derive(Clone, Debug, PartialEq)]
pub struct BundleInfo {
    pub config: TrainConfig,
    pub step: usize,
    pub version: String,
    pub metrics_csv: String,
    pub link: String,
}

/// The run as a bundle: weights, optimiser state, `metrics_csv` and `link`.
pub fn write(trainer: &Trainer, metrics_csv: &str, link: &str) -> Result<Vec<u8>, String> {
    let (t, m, v) = trainer.optimizer_state();
    let named = trainer.model.named_params();
    let mut tensors: Vec<(String, Tensor)> =
        named.iter().map(|(n, p)| (n.clone(), p.as_tensor().clone())).collect();
    for ((name, p), (m, v)) in named.iter().zip(m.iter().zip(&v)) {
        let shape = p.as_tensor().shape().clone();
        for (which, data) in [("m", m), ("v", v)] {
            let x = Tensor::from_slice(data, shape.clone(), &Device::Cpu)
                .map_err(|e| format!("bundle: {name}: {e}"))?;
            tensors.push((format!("{OPTIM_PREFIX}{which}.{name}"), x));
        }
    }
    let mut meta = trainer.header();
    meta["bundle"] = json!({ "format": FORMAT, "optim_t": t, "metrics_csv": metrics_csv, "link": link });
    let info: HashMap<String, String> = [("interlab".to_string(), meta.to_string())].into();
    safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(info))
        .map_err(|e| format!("bundle: could not serialise: {e}"))
}

/// The bundle part of a file's header: `None` for a plain checkpoint (weights only).
pub fn info(bytes: &[u8]) -> Result<Option<BundleInfo>, String> {
    let meta = crate::model::checkpoint::metadata(bytes).map_err(|e| e.to_string())?;
    let text = meta
        .get("interlab")
        .ok_or("no 'interlab' entry in the safetensors header (not saved by interlab?)")?;
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("bundle header: {e}"))?;
    let Some(b) = v.get("bundle") else { return Ok(None) };
    let format = b.get("format").and_then(|f| f.as_u64()).ok_or("bundle header: no 'format'")?;
    if format != FORMAT {
        return Err(format!("bundle format {format} is not known to this lab (it reads format {FORMAT})"));
    }
    let text = |k: &str| {
        b.get(k)
            .and_then(|x| x.as_str())
            .map(String::from)
            .ok_or_else(|| format!("bundle header: '{k}' is missing or not text"))
    };
    Ok(Some(BundleInfo {
        config: TrainConfig::from_json(&v["config"].to_string())?,
        step: v["step"].as_u64().ok_or("bundle header: no 'step'")? as usize,
        version: v["version"].as_str().unwrap_or("?").to_string(),
        metrics_csv: text("metrics_csv")?,
        link: text("link")?,
    }))
}

/// Rebuild the run from a bundle (weights and optimiser state: training on continues the
/// same run, bit for bit on the CPU) or from a plain checkpoint (weights only, fresh
/// moments).
pub fn restore(bytes: &[u8]) -> Result<Trainer, String> {
    let mut trainer = Trainer::from_checkpoint(bytes)?;
    let meta = crate::model::checkpoint::metadata(bytes).map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_str(meta.get("interlab").map(String::as_str).unwrap_or("{}"))
        .map_err(|e| format!("bundle header: {e}"))?;
    let Some(t) = v
        .get("bundle")
        .map(|b| b.get("optim_t").and_then(|t| t.as_u64()).ok_or("bundle header: no 'optim_t'"))
        .transpose()?
    else {
        return Ok(trainer);
    };
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| format!("bundle: {e}"))?;
    let names: Vec<String> = trainer.model.named_params().into_iter().map(|(n, _)| n).collect();
    let (mut ms, mut vs) = (Vec::new(), Vec::new());
    for name in &names {
        for (which, out) in [("m", &mut ms), ("v", &mut vs)] {
            let key = format!("{OPTIM_PREFIX}{which}.{name}");
            let view = st.tensor(&key).map_err(|_| format!("bundle: tensor '{key}' is missing"))?;
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(format!("bundle: tensor '{key}' is {:?}, expected F32", view.dtype()));
            }
            out.push(
                view.data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect::<Vec<f32>>(),
            );
        }
    }
    trainer.set_optimizer_state(t, ms, vs).map_err(|e| format!("bundle: {e}"))?;
    Ok(trainer)
}

/// The columns of a run's tidy metrics CSV (bundles and the lab's curve download).
pub const METRICS_COLUMNS: [&str; 3] = ["step", "metric", "value"];

/// A run's metrics as tidy CSV, one row per value: `step,metric,value` with `metric` one of
/// `train_loss`, `train_accuracy`, `heldout_accuracy`, `heldout_exact`, `heldout_mse`.
/// Values are written exactly (shortest round-trip form), so `parse_metrics` gives them back
/// bit for bit.
pub fn metrics_csv(h: &History) -> String {
    let mut t = Table::new(&METRICS_COLUMNS);
    let series: [(&str, &Vec<(f64, f64)>); 5] = [
        ("train_loss", &h.loss),
        ("train_accuracy", &h.accuracy),
        ("heldout_accuracy", &h.eval_accuracy),
        ("heldout_exact", &h.eval_exact),
        ("heldout_mse", &h.eval_mse),
    ];
    for (name, points) in series {
        for (s, v) in points {
            t.push(&[(*s as u64).to_string(), name.to_string(), format!("{v:?}")]);
        }
    }
    t.finish()
}

/// Read `metrics_csv` back (for an imported bundle's charts); errors name the line.
pub fn parse_metrics(text: &str, regression: bool) -> Result<History, String> {
    let mut h = History { regression, ..History::default() };
    let rows = parse(text, "metrics").map_err(|e| e.to_string())?;
    let mut rows = rows.iter().enumerate();
    if rows.next().map(|(_, r)| r.iter().map(|c| c.trim()).collect::<Vec<_>>())
        != Some(METRICS_COLUMNS.to_vec())
    {
        return Err("metrics: the first line must be 'step,metric,value'".into());
    }
    for (i, row) in rows.filter(|(_, r)| !(r.len() == 1 && r[0].trim().is_empty())) {
        let n = i + 1;
        let [step, metric, value] = row.as_slice() else {
            return Err(format!("metrics line {n}: expected step,metric,value"));
        };
        let step: u64 = step
            .trim()
            .parse()
            .map_err(|_| format!("metrics line {n}: step '{step}' is not a whole number"))?;
        let value: f64 = match value.trim() {
            "NaN" => f64::NAN,
            v => v.parse().map_err(|_| format!("metrics line {n}: value '{v}' is not a number"))?,
        };
        let target = match metric.trim() {
            "train_loss" => &mut h.loss,
            "train_accuracy" => &mut h.accuracy,
            "heldout_accuracy" => &mut h.eval_accuracy,
            "heldout_exact" => &mut h.eval_exact,
            "heldout_mse" => &mut h.eval_mse,
            other => return Err(format!("metrics line {n}: unknown metric '{other}'")),
        };
        target.push((step as f64, value));
    }
    Ok(h)
}
