//! Why: a study's AI advice is only as good as the model behind it, and a shipped model that
//! no longer matches its protocol's sha256 would break every participant's session. This
//! checks each shipped protocol's shipped models: the file exists, its sha256 matches, it
//! was trained on the task its puzzles ask, and its advice on 300 puzzles of that task beats
//! chance (printed, so the README's advisor accuracies can be re-measured).

use interlab::engine::advisor::{top_two, ModelAdvisor};
use interlab::study::protocol::TrialKind;
use interlab::study::puzzle::make_puzzle;

#[test]
fn shipped_advisors_match_their_hashes_and_beat_chance_on_their_puzzles() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("public");
    let text = std::fs::read_to_string(root.join("studies/assistance-persistence.json")).unwrap();
    let p = interlab::study::parse_protocol(&text).unwrap();
    for m in &p.models {
        let file = root.join("models").join(m.shipped().expect("shipped models only"));
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let adv = ModelAdvisor::load(&m.name, &bytes, &m.sha256).unwrap();
        let z = p.trials().find_map(|(_, t)| match &t.kind {
            TrialKind::Puzzle(z) if z.model.as_deref() == Some(m.name.as_str()) => Some(z.clone()),
            _ => None,
        });
        let z = z.unwrap_or_else(|| panic!("no puzzle uses {}", m.name));
        adv.check_task(&z.task.name, &z.task.params).unwrap();
        let n = 300u64;
        let (mut right, mut classes) = (0, 0);
        for seed in 0..n {
            let inst = make_puzzle(&z.task, seed).unwrap();
            let probs = adv.predict(&inst.token_ids, inst.query_position).unwrap();
            right += (top_two(&probs).0 as u32 == inst.answer) as u32;
            classes = inst.classes;
        }
        let acc = right as f64 / n as f64;
        eprintln!("{}: {} {:?}: advice right on {right} of {n} puzzles ({acc:.3}; chance {:.3})", m.name, z.task.name, z.task.params, 1.0 / classes as f64);
        assert!(acc > 2.0 / classes as f64, "{}: {acc}", m.name);
    }
}
