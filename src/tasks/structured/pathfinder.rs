//! PathfinderSegmentation (DLR paper, Gupta et al.): Pathfinder images (Linsley et al. 2018, as
//! in the Long Range Arena's Path-X) as a per-pixel task: mark the path that joins the two
//! circles.
//!
//! Layout: an N x N image (`N = size`), flattened row-major into `N * N` tokens. It holds two
//! filled discs of radius `radius` (pixels with `dx² + dy² <= r² + r`) joined by one 8-connected,
//! 1-pixel-wide curve, plus `distractors` further curves of similar length with no discs.
//! The discs lie wholly inside the image with centres at least `max(2r + 2, ceil(N / 3))` apart
//! along one axis, so they never touch and the joining path is long; `size >= 4r + 4` is
//! required so two discs and a gap fit along a side (at that minimum the gap may be 1 pixel).
//! The joining path is a random walk from disc A's centre whose heading turns at random and is
//! pulled toward disc B; after `2 x distance + N/2` steps it heads straight for B. Each
//! distractor is the same kind of walk between two random points, capped at 3/4..5/4 of
//! `max(joining path's steps, N/2)` steps; it never enters the 8-neighbourhood of the connecting structure (it
//! turns 45°, or ends early, when it would), so that structure is exactly one 8-connected
//! component of the non-background pixels. A distractor is dropped only when no pixel is left
//! outside that neighbourhood (possible only in tiny images; never seen at N >= 32).
//!
//! Vocabulary (3 tokens): 0 background `·`, 1 path pixel `#`, 2 disc pixel `o`.
//! Targets: class 1 on the connecting structure (both discs and the path joining them), 0
//! everywhere else (background and distractor pixels). Every pixel is scored.

use crate::core::{ConfigError, Rng};
use crate::tasks::{Checks, Output, ParamSpec, Params, RowMut, Shape, Task, TaskInfo};

pub static INFO: TaskInfo = TaskInfo {
    name: "pathfinder",
    title: "Pathfinder segmentation",
    family: "DLR suite (long)",
    description: "label every pixel of the path that joins two circles, ignoring distractor paths (N x N image as N² tokens)",
    source: "Gupta et al. 2022, DLR paper (PathfinderSegmentation); images after Pathfinder (Linsley et al. 2018) / LRA Path-X",
    params: PARAMS,
    build,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec::int("size", "Image size N", "N x N pixels = N² tokens; at least 4 x radius + 4", 32, 8, 256),
    ParamSpec::int("radius", "Circle radius", "radius of the two end discs (pixels)", 2, 1, 8),
    ParamSpec::int(
        "distractors",
        "Distractor paths",
        "paths without circles that never touch the connecting path",
        4,
        0,
        32,
    ),
];

pub const BACKGROUND: u32 = 0;
pub const PATH: u32 = 1;
pub const CIRCLE: u32 = 2;

/// The 8 headings, counter-clockwise from east (y grows downward).
const DX: [i32; 8] = [1, 1, 0, -1, -1, -1, 0, 1];
const DY: [i32; 8] = [0, -1, -1, -1, 0, 1, 1, 1];

pub struct Pathfinder {
    params: Params,
    size: usize,
    radius: usize,
    distractors: usize,
}

fn build(params: Params) -> Result<Box<dyn Task>, ConfigError> {
    Ok(Box::new(Pathfinder::from_params(params)?))
}

/// The heading whose step is `(sign dx, sign dy)`; `dx, dy` not both 0.
fn heading(dx: i32, dy: i32) -> usize {
    (0..8).find(|&i| DX[i] == dx.signum() && DY[i] == dy.signum()).unwrap_or(0)
}

/// One step of a wandering heading: a random 45° turn either way, a turn toward `want`, or
/// straight on (1/6, 1/6, 1/6, 1/2).
fn steer(rng: &mut Rng, dir: usize, want: usize) -> usize {
    match rng.below(6) {
        0 => (dir + 1) % 8,
        1 => (dir + 7) % 8,
        2 => turn_toward(dir, want),
        _ => dir,
    }
}

/// `dir` turned one notch (45°) toward `want`.
fn turn_toward(dir: usize, want: usize) -> usize {
    match (want + 8 - dir) % 8 {
        0 => dir,
        1..=4 => (dir + 1) % 8,
        _ => (dir + 7) % 8,
    }
}

impl Pathfinder {
    pub fn from_params(params: Params) -> Result<Self, ConfigError> {
        let (size, radius, distractors) =
            (params.usize("size"), params.usize("radius"), params.usize("distractors"));
        let mut c = Checks::default();
        c.check(size < 4 * radius + 4, "size", || {
            format!(
                "{size} is too small for radius {radius}: two discs {} pixels wide, a gap and the path between them need at least {}",
                2 * radius + 1,
                4 * radius + 4
            )
        });
        c.finish()?;
        Ok(Pathfinder { params, size, radius, distractors })
    }

    fn in_disc(&self, x: i32, y: i32, cx: i32, cy: i32) -> bool {
        let r = self.radius as i32;
        (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r + r
    }

    fn inside(&self, x: i32, y: i32) -> bool {
        let n = self.size as i32;
        x >= 0 && y >= 0 && x < n && y < n
    }

    /// In the image and not within the 8-neighbourhood of a connecting-structure pixel.
    fn free(&self, targets: &[u32], x: i32, y: i32) -> bool {
        let n = self.size as i32;
        if !self.inside(x, y) {
            return false;
        }
        for yy in (y - 1).max(0)..=(y + 1).min(n - 1) {
            for xx in (x - 1).max(0)..=(x + 1).min(n - 1) {
                if targets[(yy * n + xx) as usize] == 1 {
                    return false;
                }
            }
        }
        true
    }

    /// A free pixel: a few random tries, then a scan from a random offset; `None` when full.
    fn free_start(&self, rng: &mut Rng, targets: &[u32]) -> Option<(i32, i32)> {
        let n = self.size;
        let at = |i: usize| ((i % n) as i32, (i / n) as i32);
        for _ in 0..16 {
            let (x, y) = at(rng.below((n * n) as u64) as usize);
            if self.free(targets, x, y) {
                return Some((x, y));
            }
        }
        let start = rng.below((n * n) as u64) as usize;
        (0..n * n).map(|k| at((start + k) % (n * n))).find(|&(x, y)| self.free(targets, x, y))
    }
}

impl Task for Pathfinder {
    task_meta!();

    fn shape(&self) -> Shape {
        Shape {
            seq_len: self.size * self.size,
            vocab: 3,
            features: 0,
            output: Output::Classes { channels: 1, classes: 2 },
        }
    }

    fn image(&self) -> Option<(usize, usize)> {
        Some((self.size, self.size))
    }

    fn fill_row(&self, rng: &mut Rng, row: RowMut<'_>) {
        let (n, r) = (self.size, self.radius);
        let ni = n as i32;
        let (inputs, targets) = (row.inputs, row.targets); // [n * n] each, row-major
        row.mask.fill(1.0);
        // Disc centres in lo..=hi, `d >= sep` apart along one axis.
        let (lo, hi) = (r, n - 1 - r);
        let sep = (2 * r + 2).max(n.div_ceil(3));
        let d = rng.range(sep, hi - lo + 1);
        let a = lo + rng.below((hi - lo - d + 1) as u64) as usize;
        let (mut u0, mut u1) = (a, a + d);
        if rng.below(2) == 0 {
            std::mem::swap(&mut u0, &mut u1);
        }
        let (v0, v1) = (rng.range(lo, hi + 1), rng.range(lo, hi + 1));
        let ((ax, ay), (bx, by)) =
            if rng.below(2) == 0 { ((u0, v0), (u1, v1)) } else { ((v0, u0), (v1, u1)) };
        let (ax, ay, bx, by) = (ax as i32, ay as i32, bx as i32, by as i32);
        for (cx, cy) in [(ax, ay), (bx, by)] {
            for y in cy - r as i32..=cy + r as i32 {
                for x in cx - r as i32..=cx + r as i32 {
                    if self.in_disc(x, y, cx, cy) {
                        let p = (y * ni + x) as usize;
                        inputs[p] = CIRCLE;
                        targets[p] = 1;
                    }
                }
            }
        }
        // Connecting path: wander with a pull toward B, then go straight once `free_steps` are spent.
        let dist = (bx - ax).abs().max((by - ay).abs()) as usize;
        let free_steps = 2 * dist + n / 2;
        let (mut x, mut y) = (ax, ay);
        let mut dir = heading(bx - ax, by - ay);
        let mut steps = 0;
        while !self.in_disc(x, y, bx, by) {
            let want = heading(bx - x, by - y);
            dir = if steps >= free_steps { want } else { steer(rng, dir, want) };
            if !self.inside(x + DX[dir], y + DY[dir]) {
                dir = want; // toward B, which is inside the image
            }
            (x, y) = (x + DX[dir], y + DY[dir]);
            steps += 1;
            let p = (y * ni + x) as usize;
            if inputs[p] == BACKGROUND {
                inputs[p] = PATH;
                targets[p] = 1;
            }
        }
        // Distractors: the same kind of walk between two random points at least `sep` apart,
        // about as many steps as the connecting path; a step that would enter the structure's
        // neighbourhood turns 45° either way, or ends the distractor early.
        let len = steps.max(n / 2);
        for _ in 0..self.distractors {
            let Some((mut x, mut y)) = self.free_start(rng, targets) else { break };
            inputs[(y * ni + x) as usize] = PATH;
            let (mut tx, mut ty) = (x, y);
            for _ in 0..8 {
                (tx, ty) = (rng.below(n as u64) as i32, rng.below(n as u64) as i32);
                if (tx - x).abs().max((ty - y).abs()) as usize >= sep {
                    break;
                }
            }
            let limit = rng.range(len * 3 / 4, len * 5 / 4 + 1);
            let mut dir = heading(tx - x, ty - y);
            for step in 0..limit {
                if (x, y) == (tx, ty) {
                    break;
                }
                let want = heading(tx - x, ty - y);
                dir = if step >= limit / 2 + dist { want } else { steer(rng, dir, want) };
                if !self.inside(x + DX[dir], y + DY[dir]) {
                    dir = want;
                }
                let Some(d) = [dir, (dir + 1) % 8, (dir + 7) % 8]
                    .into_iter()
                    .find(|&d| self.free(targets, x + DX[d], y + DY[d]))
                else {
                    break;
                };
                dir = d;
                (x, y) = (x + DX[dir], y + DY[dir]);
                inputs[(y * ni + x) as usize] = PATH;
            }
        }
    }

    fn token_label(&self, token: u32) -> String {
        match token {
            PATH => "#".into(),
            CIRCLE => "o".into(),
            _ => "·".into(),
        }
    }

    fn class_label(&self, class: u32) -> String {
        if class == 1 {
            "1".into()
        } else {
            "·".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(size: usize, radius: usize, distractors: usize) -> Result<Pathfinder, ConfigError> {
        let mut p = Params::defaults(PARAMS);
        p.set("size", size as f64);
        p.set("radius", radius as f64);
        p.set("distractors", distractors as f64);
        Pathfinder::from_params(p)
    }

    #[test]
    fn too_small_image_names_size_and_the_minimum() {
        let e = task(16, 4, 4).err().unwrap();
        let m = e.for_field("size").unwrap();
        assert!(m.contains("radius 4") && m.contains("at least 20"), "{m}");
        assert!(task(20, 4, 4).is_ok() && task(8, 1, 0).is_ok());
    }

    #[test]
    fn largest_image_is_fast_and_has_a_long_path() {
        let t = task(256, 2, 32).unwrap();
        let start = std::time::Instant::now();
        let b = t.generate(5, 4);
        let per_row = start.elapsed().as_secs_f64() / 4.0;
        // Debug builds are slow; release is far below this.
        assert!(per_row < 0.05, "{per_row} s per 256 x 256 row");
        for r in 0..4 {
            let row = b.row(r);
            let main_path =
                (0..row.inputs.len()).filter(|&i| row.inputs[i] == PATH && row.targets[i] == 1).count();
            let distractor =
                (0..row.inputs.len()).filter(|&i| row.inputs[i] == PATH && row.targets[i] == 0).count();
            assert!(main_path >= 256 / 3 - 6, "row {r}: path of {main_path} pixels");
            assert!(distractor >= 32 * 64, "row {r}: only {distractor} distractor pixels");
        }
    }
}
