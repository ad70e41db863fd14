use std::time::Instant;
use candle_core::{Tensor, Device};
use interlab::core::TrainConfig;
use interlab::model::*;
use interlab::tasks::{Mqar, Task};
fn main() {
    let cfg = TrainConfig::default();
    let m = Transformer::new(TransformerConfig{vocab:cfg.vocab,max_len:cfg.seq_len,layers:cfg.layers,heads:cfg.heads,d_model:cfg.d_model,mlp_ratio:4}, 1).unwrap();
    let task = Mqar::new(cfg.vocab, cfg.seq_len, cfg.kv_pairs);
    let b = task.generate(1, cfg.batch);
    let x = Tensor::from_vec(b.inputs.clone(), (b.batch, b.seq_len), &Device::Cpu).unwrap();
    let y = Tensor::from_vec(b.targets.clone(), b.batch*b.seq_len, &Device::Cpu).unwrap();
    let mk = Tensor::from_vec(b.mask.clone(), b.batch*b.seq_len, &Device::Cpu).unwrap();
    for _ in 0..3 {
        let t0 = Instant::now();
        let logits = m.forward(&x).unwrap();
        let loss = masked_cross_entropy(&logits, &y, &mk).unwrap();
        let t1 = Instant::now();
        let g = loss.backward().unwrap();
        let t2 = Instant::now();
        println!("fwd {:?} bwd {:?}", t1-t0, t2-t1);
        drop(g);
    }
    let a = Tensor::randn(0f32, 1., (1536, 64), &Device::Cpu).unwrap();
    let w = Tensor::randn(0f32, 1., (64, 256), &Device::Cpu).unwrap();
    let t0 = Instant::now();
    for _ in 0..10 { let _ = a.matmul(&w).unwrap(); }
    println!("matmul 1536x64x256: {:?}", t0.elapsed()/10);
    let q = Tensor::randn(0f32, 1., (32,2,48,32), &Device::Cpu).unwrap();
    let k = Tensor::randn(0f32, 1., (32,2,32,48), &Device::Cpu).unwrap();
    let t0 = Instant::now();
    for _ in 0..10 { let _ = q.matmul(&k).unwrap(); }
    println!("bmm: {:?}", t0.elapsed()/10);
    let s = Tensor::randn(0f32, 1., (32,2,48,48), &Device::Cpu).unwrap();
    let t0 = Instant::now();
    for _ in 0..10 { let _ = s.exp().unwrap(); }
    println!("exp 147k: {:?}", t0.elapsed()/10);
    let t0 = Instant::now();
    for _ in 0..10 { let _ = s.max_keepdim(3).unwrap(); }
    println!("max_keepdim: {:?}", t0.elapsed()/10);
    let t0 = Instant::now();
    for _ in 0..10 { let _ = s.transpose(1,2).unwrap().contiguous().unwrap(); }
    println!("transpose contig: {:?}", t0.elapsed()/10);
}
