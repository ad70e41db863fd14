//! Images for the gallery as `data:` URLs: a tiny 24-bit BMP encoder (base64 from `core`), so an image
//! task (PathfinderSegmentation) shows as pixels without a canvas or any web API.

/// A `data:image/bmp;base64,...` URL of a `w x h` image; `pixel(x, y)` gives RGB, with
/// `y = 0` the top row.
pub fn bmp_data_url(w: usize, h: usize, pixel: impl Fn(usize, usize) -> [u8; 3]) -> String {
    let row = (w * 3).div_ceil(4) * 4; // rows are padded to 4 bytes
    let size = 54 + row * h;
    let mut b = Vec::with_capacity(size);
    let u32le = |b: &mut Vec<u8>, v: u32| b.extend_from_slice(&v.to_le_bytes());
    b.extend_from_slice(b"BM");
    u32le(&mut b, size as u32);
    u32le(&mut b, 0);
    u32le(&mut b, 54); // pixel data offset
    u32le(&mut b, 40); // BITMAPINFOHEADER
    u32le(&mut b, w as u32);
    u32le(&mut b, (h as i32).wrapping_neg() as u32); // negative height: top-down rows
    b.extend_from_slice(&1u16.to_le_bytes()); // planes
    b.extend_from_slice(&24u16.to_le_bytes()); // bits per pixel
    for _ in 0..6 {
        u32le(&mut b, 0); // no compression, default sizes and palette
    }
    for y in 0..h {
        for x in 0..w {
            let [r, g, bl] = pixel(x, y);
            b.extend_from_slice(&[bl, g, r]);
        }
        b.resize(b.len() + row - w * 3, 0);
    }
    format!("data:image/bmp;base64,{}", crate::core::base64::encode(&b))
}
