//! Standard base64 (RFC 4648, with padding): images as `data:` URLs, and under the base64url
//! of compressed share links (`core::share`).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &v)| acc | (v as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decode; an error names the first bad character's position.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return Err(format!("base64 length {} is not a multiple of 4", bytes.len()));
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (q, quad) in bytes.chunks(4).enumerate() {
        let mut n = 0u32;
        let mut pad = 0;
        for (i, &c) in quad.iter().enumerate() {
            let v = match c {
                b'=' if i >= 2 && q == bytes.len() / 4 - 1 => {
                    pad += 1;
                    0
                }
                _ if pad > 0 => return Err(format!("base64: data after padding at {}", q * 4 + i)),
                _ => ALPHABET
                    .iter()
                    .position(|&a| a == c)
                    .ok_or_else(|| format!("base64: bad character at {}", q * 4 + i))?
                    as u32,
            };
            n = n << 6 | v;
        }
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..3 - pad]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length_and_matches_known_values() {
        assert_eq!(encode(b"interlab"), "aW50ZXJsYWI=");
        assert_eq!(encode(b""), "");
        for n in 0..70 {
            let data: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(decode(&encode(&data)).unwrap(), data, "length {n}");
        }
        assert!(decode("aW5=ZXJs").unwrap_err().contains("bad character at 3"));
        assert!(decode("aW=A").unwrap_err().contains("data after padding at 3"));
        assert!(decode("aW5*").unwrap_err().contains("bad character at 3"));
        assert!(decode("abc").unwrap_err().contains("multiple of 4"));
    }
}
