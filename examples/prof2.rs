use std::time::Instant;
use candle_core::{Tensor, Device, D};
fn t<F: Fn()>(name: &str, f: F) { f(); let t0 = Instant::now(); for _ in 0..10 { f(); } println!("{name}: {:?}", t0.elapsed()/10); }
fn main() {
    let d = Device::Cpu;
    let h = Tensor::randn(0f32, 1., (1536, 256), &d).unwrap();
    t("gelu 1536x256", || { h.gelu().unwrap(); });
    t("relu 1536x256", || { h.relu().unwrap(); });
    t("add 1536x256", || { (&h + &h).unwrap(); });
    let x = Tensor::randn(0f32, 1., (32, 48, 64), &d).unwrap();
    t("mean_keepdim", || { x.mean_keepdim(D::Minus1).unwrap(); });
    let m = x.mean_keepdim(D::Minus1).unwrap();
    t("broadcast_sub", || { x.broadcast_sub(&m).unwrap(); });
    t("sqr", || { x.sqr().unwrap(); });
    let g = Tensor::randn(0f32, 1., 64, &d).unwrap();
    t("broadcast_mul vec", || { x.broadcast_mul(&g).unwrap(); });
    let b = Tensor::randn(0f32, 1., 256, &d).unwrap();
    t("broadcast_add bias 1536x256", || { h.broadcast_add(&b).unwrap(); });
    let lg = Tensor::randn(0f32, 1., (1536, 64), &d).unwrap();
    t("argmax", || { lg.argmax(D::Minus1).unwrap(); });
    t("sum_keepdim 1536x256 dim0", || { h.sum_keepdim(0).unwrap(); });
    let w = Tensor::randn(0f32, 1., (64, 256), &d).unwrap();
    let x2 = x.reshape((1536, 64)).unwrap();
    t("matmul x@W", || { x2.matmul(&w).unwrap(); });
    t("matmul h@W^T", || { h.matmul(&w.t().unwrap()).unwrap(); });
    t("matmul x^T@h", || { x2.t().unwrap().matmul(&h).unwrap(); });
}
