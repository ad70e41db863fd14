//! Why: issue 7's guarantees for studies run without a server — balanced, reproducible
//! assignment; exactly one trial row per trial; a stable export schema; byte-identical
//! exports from the same seeds; and a reload at any point resuming at the same trial with
//! the same condition. 1,000 simulated participants go through each shipped protocol.

use std::collections::BTreeMap;
use std::path::Path;

use interlab::core::csv::parse;
use interlab::study::analyze::{self, ANALYSIS_COLUMNS};
use interlab::study::assign::{self, block_counts, block_size, cells};
use interlab::study::events::{EventKind, Log};
use interlab::study::export::{self, EVENT_COLUMNS, TRIAL_COLUMNS};
use interlab::study::simulate::{participant_ids, simulate_participant, simulate_study, SimOptions};
use interlab::study::stats::chi2_sf;
use interlab::study::{markdown, parse_protocol, Protocol};

const STUDIES: &[&str] = &["assistance-persistence", "advisor-manipulation", "attention-editing"];
const N: usize = 1000;
/// Issue 7: each condition's share within ±3 percentage points of its weight share.
const BALANCE_TOLERANCE: f64 = 0.03;
/// Participants whose logs are cut at every prefix and resumed.
const RESUME_PARTICIPANTS: usize = 12;

fn load(name: &str) -> Protocol {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("public/studies/{name}.json"));
    parse_protocol(&std::fs::read_to_string(path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn opts(seed: u64) -> SimOptions {
    SimOptions { seed, ..Default::default() }
}

fn rows_of(logs: &[Log]) -> impl Iterator<Item = &[interlab::study::events::EventRow]> + Clone {
    logs.iter().map(|l| l.rows())
}

/// Columns of a trial row that a reload may change (times): everything else must match.
fn timeless(row: &[String]) -> Vec<String> {
    TRIAL_COLUMNS.iter().zip(row).filter(|(c, _)| !c.starts_with("t_")).map(|(_, v)| v.clone()).collect()
}

#[test]
fn thousand_participants_per_study_balanced_one_row_per_trial_stable_schema() {
    for name in STUDIES {
        let p = load(name);
        let logs = simulate_study(&p, N, &opts(7)).unwrap();
        assert_eq!(logs.len(), N);

        // Balance: shares within ±3 points of the weights, and a goodness-of-fit test that
        // does not reject (p > 0.001).
        let cs = cells(&p);
        let total_w: f64 = cs.iter().map(|c| c.weight).sum();
        let mut chi = 0.0;
        let mut report = Vec::new();
        for c in &cs {
            let k = logs.iter().filter(|l| l.rows()[0].condition == c.label()).count() as f64;
            let (share, target) = (k / N as f64, c.weight / total_w);
            report.push(format!("{}: {:.3} (target {:.3})", c.label(), share, target));
            assert!((share - target).abs() <= BALANCE_TOLERANCE, "{name}: {}", report.join(", "));
            chi += (k - target * N as f64).powi(2) / (target * N as f64);
        }
        let p_fit = chi2_sf(chi, (cs.len() - 1) as f64);
        assert!(p_fit > 0.001, "{name}: assignment fails goodness of fit, p={p_fit}");
        eprintln!("{name}: {} (chi-square p={p_fit:.3})", report.join(", "));

        // Exactly one trial row per planned trial (up to and including consent for people
        // who decline), in plan order; events contiguous; assignment matches the plan.
        let mut declined = 0;
        for log in &logs {
            let rows = log.rows();
            interlab::study::events::check_contiguous(rows).unwrap();
            let plan = assign::plan(&p, &rows[0].participant);
            assert!(rows.iter().all(|r| r.condition == plan.assignment.label()));
            let trials = export::trial_rows(rows);
            let said_no = log.resume().declined;
            declined += said_no as usize;
            let expected = if said_no { 1 } else { plan.trials.len() };
            assert_eq!(trials.len(), expected, "{name}: participant {}", rows[0].participant);
            for (t, pt) in trials.iter().zip(&plan.trials) {
                assert_eq!(t[4], pt.index.to_string());
                assert_eq!(t[7], pt.trial_id);
                assert_eq!(t[6], pt.rep.to_string());
            }
            assert_eq!(
                rows.iter().filter(|r| r.kind == EventKind::Completion).count(),
                usize::from(!said_no)
            );
        }
        assert!(declined > 0 && declined < N / 10, "{name}: {declined} declined consent");

        // Schema: headers equal the documented constants; every row has every column; the
        // CSVs parse back.
        let trials_csv = export::trials_csv(rows_of(&logs));
        let events_csv = export::events_csv(rows_of(&logs));
        let t = parse(&trials_csv, "trials.csv").unwrap();
        let e = parse(&events_csv, "events.csv").unwrap();
        assert_eq!(t[0], TRIAL_COLUMNS.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(e[0], EVENT_COLUMNS.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(
            t.iter().all(|r| r.len() == TRIAL_COLUMNS.len())
                && e.iter().all(|r| r.len() == EVENT_COLUMNS.len())
        );
        let n_trials: usize = logs.iter().map(|l| export::trial_rows(l.rows()).len()).sum();
        let n_events: usize = logs.iter().map(|l| l.rows().len()).sum();
        assert_eq!((t.len() - 1, e.len() - 1), (n_trials, n_events));
        let json: serde_json::Value =
            serde_json::from_str(&export::export_json(&p.metadata.id, &p.metadata.version, rows_of(&logs)))
                .unwrap();
        assert_eq!(json["trials"].as_array().unwrap().len(), n_trials);
        assert_eq!(json["events"].as_array().unwrap().len(), n_events);
        assert_eq!(json["trial_columns"].as_array().unwrap().len(), TRIAL_COLUMNS.len());
    }
}

#[test]
fn same_seeds_give_byte_identical_exports_and_other_seeds_do_not() {
    for name in STUDIES {
        let p = load(name);
        let a = simulate_study(&p, N, &opts(11)).unwrap();
        let b = simulate_study(&p, N, &opts(11)).unwrap();
        let c = simulate_study(&p, N, &opts(12)).unwrap();
        let files = |l: &[Log]| {
            (
                export::trials_csv(rows_of(l)),
                export::events_csv(rows_of(l)),
                export::export_json(name, "1", rows_of(l)),
            )
        };
        let (fa, fb, fc) = (files(&a), files(&b), files(&c));
        assert!(fa == fb, "{name}: exports differ between identical runs");
        assert_ne!(fa.0, fc.0, "{name}: another seed gave the same trials");
    }
}

#[test]
fn assignment_is_fixed_by_the_id_and_exact_per_block_for_sequential_slots() {
    for name in STUDIES {
        let p = load(name);
        for id in participant_ids(3, 50) {
            assert_eq!(assign::assign(&p, &id), assign::assign(&p, &id));
            assert_eq!(assign::plan(&p, &id), assign::plan(&p, &id));
        }
        let cs = cells(&p);
        let b = block_size(cs.len());
        for block in 0..3u64 {
            let mut counts = vec![0u64; cs.len()];
            for slot in block * b..(block + 1) * b {
                counts[assign::assign_slot(&p, slot).cell_index] += 1;
            }
            assert_eq!(counts, block_counts(&cs), "{name}: block {block}");
        }
        // Randomised blocks really are shuffled per participant, and counterbalancing
        // changes the block order between levels.
        let orders: std::collections::BTreeSet<Vec<String>> = participant_ids(4, 40)
            .iter()
            .map(|id| assign::plan(&p, id).trials.iter().map(|t| t.trial_id.clone()).collect())
            .collect();
        assert!(orders.len() > 1, "{name}: every participant got the same sequence");
    }
    let p = load("attention-editing");
    let first_block = |level: &str| {
        let id = participant_ids(5, 400)
            .into_iter()
            .find(|id| assign::assign(&p, id).label().ends_with(level))
            .unwrap();
        assign::plan(&p, &id).trials[2].block_id.clone()
    };
    assert_eq!(
        (first_block("recall_first").as_str(), first_block("induction_first").as_str()),
        ("recall", "induction")
    );
}

#[test]
fn resume_from_any_prefix_continues_at_the_same_trial_with_the_same_assignment() {
    for name in STUDIES {
        let p = load(name);
        let o = opts(21);
        for id in participant_ids(21, RESUME_PARTICIPANTS) {
            let full = simulate_participant(&p, &id, &o, None).unwrap();
            let rows = full.rows();
            let want: Vec<Vec<String>> = export::trial_rows(rows).iter().map(|r| timeless(r)).collect();
            for k in 0..rows.len() {
                let prefix = Log::from_rows(rows[..k].to_vec()).unwrap();
                let ended = rows[..k].iter().filter(|r| r.kind == EventKind::TrialEnd).count();
                let res = prefix.resume();
                assert_eq!(res.next_trial, ended, "{name}/{id}: prefix {k}");
                let resumed = simulate_participant(&p, &id, &o, Some(&prefix)).unwrap();
                let r = resumed.rows();
                interlab::study::events::check_contiguous(r).unwrap();
                assert_eq!(&r[..k], &rows[..k], "the stored prefix is never rewritten");
                assert!(r.iter().all(|x| x.condition == rows[0].condition), "re-randomised after reload");
                if k > 0 && !(res.declined || res.completed) {
                    assert_eq!(r[k].kind, EventKind::Reload);
                    if ended < assign::plan(&p, &id).trials.len() {
                        assert_eq!(r[k + 1].trial_index, Some(ended), "{name}/{id}: prefix {k}");
                    } else {
                        assert_eq!(r[k + 1].kind, EventKind::Completion, "{name}/{id}: prefix {k}");
                    }
                }
                let got: Vec<Vec<String>> = export::trial_rows(r).iter().map(|r| timeless(r)).collect();
                assert_eq!(got, want, "{name}/{id}: resumed at prefix {k} gives other trial rows");
            }
        }
    }
}

#[test]
fn log_appends_are_idempotent_and_gaps_or_conflicts_are_refused() {
    let p = load("advisor-manipulation");
    let log = participant_ids(1, 20)
        .iter()
        .map(|id| simulate_participant(&p, id, &opts(1), None).unwrap())
        .find(|l| l.rows().len() > 10)
        .unwrap();
    let mut copy = Log::from_rows(log.rows().to_vec()).unwrap();
    for r in log.rows() {
        assert_eq!(copy.append(r.clone()).unwrap(), interlab::study::events::Appended::Duplicate);
    }
    assert_eq!(copy, log);
    let mut changed = log.rows()[3].clone();
    changed.t_ms += 1;
    assert!(copy.append(changed).is_err());
    let mut gap = log.rows()[0].clone();
    gap.seq = log.rows().len() as u64 + 1;
    assert!(copy.append(gap).unwrap_err().to_string().contains("gap"));
    let mut other = log.rows()[0].clone();
    other.participant = "someone-else".into();
    other.seq = log.rows().len() as u64;
    assert!(copy.append(other).is_err());
    let mut skipped = log.rows().to_vec();
    skipped.remove(2);
    assert!(Log::from_rows(skipped).is_err());
}

#[test]
fn analysis_finds_the_planted_effects_and_reads_trial_and_event_csvs_alike() {
    let p = load("advisor-manipulation");
    let logs = simulate_study(&p, N, &opts(3)).unwrap();
    let from_trials = analyze::load_csv(&export::trials_csv(rows_of(&logs)), "trials.csv").unwrap();
    let from_events = analyze::load_csv(&export::events_csv(rows_of(&logs)), "events.csv").unwrap();
    let table = analyze::analyze(&from_trials);
    assert_eq!(table, analyze::analyze(&from_events), "event CSV and trial CSV disagree");
    let get = |metric: &str, cond: &str| {
        table
            .iter()
            .find(|r| r.metric == metric && r.condition == cond)
            .unwrap_or_else(|| panic!("{metric} {cond}"))
            .clone()
    };
    let (neutral, manip) =
        (get("harmful_choice_rate", "advisor=neutral"), get("harmful_choice_rate", "advisor=manipulative"));
    assert!(manip.estimate > neutral.estimate && manip.p_value < 0.001, "{neutral:?} {manip:?}");
    assert_eq!(neutral.n_participants + manip.n_participants, N);
    for r in &table {
        if r.n > 1 {
            assert!(r.ci_low <= r.estimate && r.estimate <= r.ci_high, "{r:?}");
        }
    }
    let csv = analyze::analysis_csv(&table);
    let parsed = parse(&csv, "analysis.csv").unwrap();
    assert_eq!(parsed[0], ANALYSIS_COLUMNS.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(parsed.len(), table.len() + 1);

    // Assistance → persistence: unassisted test give-ups rise with earlier AI help.
    let p = load("assistance-persistence");
    let logs = simulate_study(&p, N, &opts(3)).unwrap();
    let recs = analyze::load_csv(&export::trials_csv(rows_of(&logs)), "trials.csv").unwrap();
    let t = analyze::analyze(&recs);
    let gu = |c: &str| t.iter().find(|r| r.metric == "give_up_rate" && r.condition == c).unwrap().clone();
    assert!(gu("ai=always").estimate > gu("ai=none").estimate && gu("ai=none").p_value < 0.001);
    assert!(analyze::load_csv("participant,condition\nx,y\n", "bad.csv")
        .unwrap_err()
        .to_string()
        .contains("missing column 'trial_type'"));
}

#[test]
fn consent_text_renders_safely_and_the_redirect_encodes_its_parameters() {
    for name in STUDIES {
        let p = load(name);
        let html = markdown::render(&p.consent);
        assert!(html.starts_with("<h1>") && !html.contains("<script"), "{html}");
        for page in &p.instructions {
            assert!(!markdown::render(&page.text).is_empty());
        }
    }
    let p = load("assistance-persistence");
    let params: BTreeMap<String, String> = [("PROLIFIC_PID".to_string(), "a&b=c d".to_string())].into();
    assert_eq!(
        p.completion.redirect_url(&params),
        "https://app.prolific.com/submissions/complete?cc=C1A2B3&pid=a%26b%3Dc%20d"
    );
}
