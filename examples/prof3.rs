use std::time::Instant;
use candle_core::{Tensor, Device, D, Var};
fn main() {
    let d = Device::Cpu;
    let (b,l,dm,h)=(32usize,48usize,64usize,2usize); let dh=dm/h;
    let x = Var::from_tensor(&Tensor::randn(0f32, 1., (b, l, dm), &d).unwrap()).unwrap();
    let w = Var::from_tensor(&Tensor::randn(0f32, 0.1, (dm, 3*dm), &d).unwrap()).unwrap();
    let mask = Tensor::zeros((l,l), candle_core::DType::F32, &d).unwrap();
    for _ in 0..3 {
    let t0 = Instant::now();
    let qkv = x.as_tensor().reshape((b*l,dm)).unwrap().matmul(w.as_tensor()).unwrap().reshape((b,l,3*dm)).unwrap();
    let t1 = Instant::now();
    let split = |i: usize| qkv.narrow(2, i*dm, dm).unwrap().reshape((b,l,h,dh)).unwrap().transpose(1,2).unwrap().contiguous().unwrap();
    let (q,k,v)=(split(0),split(1),split(2));
    let t2 = Instant::now();
    let s = (q.matmul(&k.t().unwrap().contiguous().unwrap()).unwrap()*0.1).unwrap().broadcast_add(&mask).unwrap();
    let t3 = Instant::now();
    let m = s.max_keepdim(D::Minus1).unwrap().detach();
    let e = s.broadcast_sub(&m).unwrap().exp().unwrap();
    let p = e.broadcast_div(&e.sum_keepdim(D::Minus1).unwrap()).unwrap();
    let t4 = Instant::now();
    let y = p.matmul(&v).unwrap().transpose(1,2).unwrap().contiguous().unwrap().reshape((b*l,dm)).unwrap();
    let t5 = Instant::now();
    let loss = y.sqr().unwrap().sum_all().unwrap();
    let g = loss.backward().unwrap();
    let t6 = Instant::now();
    println!("qkv {:?} split {:?} scores {:?} softmax {:?} pv {:?} bwd {:?}", t1-t0,t2-t1,t3-t2,t4-t3,t5-t4,t6-t5);
    drop(g);
    }
}
