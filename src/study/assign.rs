//! Seeded, balanced condition assignment and trial-sequence expansion, both fixed by
//! (protocol seed, protocol id, participant id) alone — no server, no counter — so a
//! reload or a second device always gets the same condition and the same trials.
//!
//! Assignment: conditions' cells (cross product of the factors' levels, weight = product of
//! level weights) fill a *permutation block* of `block_size` slots in proportion to their
//! weights (largest remainder), shuffled per block by the seed. A slot number picks the
//! block and the position, so consecutive slots are exactly balanced per block. Without a
//! counter the slot is a hash of the participant id: each participant then lands in a cell
//! with probability equal to its weight share, independently (a multinomial: with 1,000
//! ids the shares sit within about ±2 points of the weights, see `tests/study.rs`).
//! `assign_slot` serves a deployment that can number its participants.

use std::collections::BTreeMap;

use super::protocol::{Order, Protocol, Trial};
use crate::core::Rng;

/// One condition cell: a level of every factor.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// `(factor id, level id)` in factor order.
    pub levels: Vec<(String, String)>,
    /// Product of the levels' weights.
    pub weight: f64,
}

impl Cell {
    /// `factor=level` pairs joined by `;` — the `condition` column of every export.
    pub fn label(&self) -> String {
        self.levels.iter().map(|(f, l)| format!("{f}={l}")).collect::<Vec<_>>().join(";")
    }
}

/// Every cell, in factor-major order (first factor varies slowest).
pub fn cells(p: &Protocol) -> Vec<Cell> {
    let mut out = vec![Cell { levels: Vec::new(), weight: 1.0 }];
    for f in &p.conditions {
        out = out
            .iter()
            .flat_map(|c| {
                f.levels.iter().map(move |l| {
                    let mut levels = c.levels.clone();
                    levels.push((f.id.clone(), l.id.clone()));
                    Cell { levels, weight: c.weight * l.weight }
                })
            })
            .collect();
    }
    out
}

/// Slots per permutation block: divisible by 1..=6, 8, 10, 12 and at least 4 per cell.
pub fn block_size(n_cells: usize) -> u64 {
    let mut b = 240u64;
    while b < 4 * n_cells as u64 {
        b += 240;
    }
    b
}

/// Slots each cell gets per block (largest-remainder rounding of the weight shares).
pub fn block_counts(cells: &[Cell]) -> Vec<u64> {
    let b = block_size(cells.len());
    let total: f64 = cells.iter().map(|c| c.weight).sum();
    let exact: Vec<f64> = cells.iter().map(|c| c.weight / total * b as f64).collect();
    let mut counts: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by(|&i, &j| {
        (exact[j] - exact[j].floor()).total_cmp(&(exact[i] - exact[i].floor())).then(i.cmp(&j))
    });
    let mut left = b - counts.iter().sum::<u64>();
    for &i in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    counts
}

/// A participant's condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub slot: u64,
    pub cell_index: usize,
    pub cell: Cell,
}

impl Assignment {
    /// Factor id → level id.
    pub fn levels(&self) -> BTreeMap<String, String> {
        self.cell.levels.iter().cloned().collect()
    }

    pub fn label(&self) -> String {
        self.cell.label()
    }
}

/// The slot of a participant id: a seeded hash of (seed, study id, participant id).
pub fn participant_slot(p: &Protocol, participant: &str) -> u64 {
    Rng::fork(p.metadata.seed, &format!("slot\u{1f}{}\u{1f}{participant}", p.metadata.id)).next_u64()
}

/// The cell at `slot`: position `slot % block` of block `slot / block`'s shuffled order.
pub fn assign_slot(p: &Protocol, slot: u64) -> Assignment {
    let cells = cells(p);
    let counts = block_counts(&cells);
    let b = block_size(cells.len());
    let mut units: Vec<usize> =
        counts.iter().enumerate().flat_map(|(i, &c)| std::iter::repeat_n(i, c as usize)).collect();
    let mut rng = Rng::fork(
        p.metadata.seed ^ (slot / b).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        &format!("block\u{1f}{}", p.metadata.id),
    );
    rng.shuffle(&mut units);
    let cell_index = units[(slot % b) as usize];
    Assignment { slot, cell_index, cell: cells[cell_index].clone() }
}

/// The condition of a participant id (always the same for the same id).
pub fn assign(p: &Protocol, participant: &str) -> Assignment {
    assign_slot(p, participant_slot(p, participant))
}

/// One trial of a participant's sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedTrial {
    /// Position in the participant's sequence (0-based).
    pub index: usize,
    /// Index of the block and of the trial inside it, in the protocol.
    pub block_index: usize,
    pub trial_index: usize,
    pub block_id: String,
    pub trial_id: String,
    /// Repetition of the block (0-based).
    pub rep: u32,
    /// Seed of everything random inside this trial (puzzle instance, simulated answers).
    pub seed: u64,
}

impl PlannedTrial {
    pub fn trial<'p>(&self, p: &'p Protocol) -> &'p Trial {
        &p.blocks[self.block_index].trials[self.trial_index]
    }
}

/// A participant's whole study: condition and trial sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub participant: String,
    pub assignment: Assignment,
    pub trials: Vec<PlannedTrial>,
}

/// Block order after counterbalancing: the counterbalanced blocks' positions are filled by
/// the same blocks rotated by the participant's level index of the counterbalance factor.
pub fn block_order(p: &Protocol, a: &Assignment) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.blocks.len()).collect();
    let Some(factor) = &p.counterbalance else { return order };
    let rotation = p
        .factor(factor)
        .and_then(|f| {
            a.cell
                .levels
                .iter()
                .find(|(fid, _)| fid == factor)
                .and_then(|(_, l)| f.levels.iter().position(|x| &x.id == l))
        })
        .unwrap_or(0);
    let slots: Vec<usize> = order.iter().copied().filter(|&i| p.blocks[i].counterbalanced).collect();
    for (k, &pos) in slots.iter().enumerate() {
        order[pos] = slots[(k + rotation) % slots.len()];
    }
    order
}

/// Expand blocks (counterbalanced order), repetitions and randomised orders for one id.
pub fn plan(p: &Protocol, participant: &str) -> Plan {
    let assignment = assign(p, participant);
    let mut trials = Vec::new();
    let pseed = Rng::fork(p.metadata.seed, &format!("participant\u{1f}{}\u{1f}{participant}", p.metadata.id))
        .next_u64();
    for bi in block_order(p, &assignment) {
        let block = &p.blocks[bi];
        for rep in 0..block.repetitions {
            let mut idx: Vec<usize> = (0..block.trials.len()).collect();
            if block.order == Order::Random {
                Rng::fork(pseed, &format!("order\u{1f}{}\u{1f}{rep}", block.id)).shuffle(&mut idx);
            }
            for ti in idx {
                let t = &block.trials[ti];
                let seed = Rng::fork(pseed, &format!("trial\u{1f}{}\u{1f}{rep}", t.id)).next_u64();
                trials.push(PlannedTrial {
                    index: trials.len(),
                    block_index: bi,
                    trial_index: ti,
                    block_id: block.id.clone(),
                    trial_id: t.id.clone(),
                    rep,
                    seed,
                });
            }
        }
    }
    Plan { participant: participant.to_string(), assignment, trials }
}
