//! The participant's page (`?page=study&study=NAME&PROLIFIC_PID=…`): load and validate the
//! protocol, check storage before consent, assign the condition from the participant id,
//! then show one trial at a time. Every event is appended to the log and written to
//! IndexedDB (`browser::storage`) *before* the page moves on; a reload reads the log back and
//! resumes at the same trial with the same assignment; a second tab for the same participant
//! is blocked. The completion code and redirect appear only once the completion event is
//! saved, with the data as CSV / JSON downloads. Trials render in `trials`.

mod advice;
mod attention_edit;
mod puzzle;
mod session;
mod trials;
mod upload;

use std::rc::Rc;

use leptos::prelude::*;

use crate::browser;
use crate::study::events::Event;
use session::{Session, Start};

/// What the page shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Screen {
    Loading(String),
    /// The protocol could not be used (shown to the researcher testing the link).
    Broken(Vec<String>),
    /// This participant has the study open in another tab.
    Blocked,
    Trial(usize),
    Declined,
    Done,
}

#[derive(Clone, Copy)]
pub struct StudyUi {
    pub screen: RwSignal<Screen>,
    /// Storage is unavailable: the data lives in this tab only (shown before consent).
    pub warning: RwSignal<Option<String>>,
    /// A save failed mid-study (the data is still in memory and downloadable).
    pub error: RwSignal<Option<String>>,
    /// A response is being saved: the trial's buttons are disabled.
    pub saving: RwSignal<bool>,
    /// Events saved without leaving the trial (e.g. advice asked for), counted so screens
    /// that depend on them redraw.
    pub logged: RwSignal<u64>,
    session: StoredValue<Option<Rc<Session>>, LocalStorage>,
}

impl StudyUi {
    fn session(&self) -> Option<Rc<Session>> {
        self.session.get_value()
    }

    /// Save `events` (in order), then show `next`. Nothing moves on until the write is done.
    pub fn finish(&self, events: Vec<Event>, next: Screen) {
        let Some(s) = self.session() else { return };
        let ui = *self;
        ui.saving.set(true);
        browser::spawn(async move {
            if let Err(e) = s.record(events).await {
                ui.error.set(Some(format!("Your last answer could not be saved to this browser ({e}). It is kept in this tab: please finish, then download your data.")));
                s.lose_storage();
            }
            if let Screen::Trial(i) = next {
                s.begin(i).await;
            }
            if next == Screen::Done {
                if let Err(e) = s.complete().await {
                    ui.error.set(Some(format!(
                        "The completion could not be saved ({e}); download your data below."
                    )));
                }
            }
            s.send();
            ui.saving.set(false);
            ui.screen.set(next);
        });
    }

    /// Save `events` and stay on the trial (e.g. advice asked for).
    pub fn log(&self, events: Vec<Event>) {
        let Some(s) = self.session() else { return };
        let ui = *self;
        ui.saving.set(true);
        browser::spawn(async move {
            if let Err(e) = s.record(events).await {
                ui.error.set(Some(format!("Saving failed ({e}); your answers are kept in this tab: please finish, then download your data.")));
                s.lose_storage();
            }
            s.send();
            ui.saving.set(false);
            ui.logged.update(|n| *n += 1);
        });
    }

    /// The screen after trial `index`: the next trial, or the end.
    pub fn after(&self, index: usize) -> Screen {
        match self.session() {
            Some(s) if index + 1 < s.plan.trials.len() => Screen::Trial(index + 1),
            _ => Screen::Done,
        }
    }
}

#[component]
pub fn StudyPage() -> impl IntoView {
    let ui = StudyUi {
        screen: RwSignal::new(Screen::Loading("Loading the study…".into())),
        warning: RwSignal::new(None),
        error: RwSignal::new(None),
        saving: RwSignal::new(false),
        logged: RwSignal::new(0),
        session: StoredValue::new_local(None),
    };
    let query = browser::url::query_pairs();
    browser::spawn(async move {
        match Session::start(&query).await {
            Start::Broken(msgs) => ui.screen.set(Screen::Broken(msgs)),
            Start::Blocked => ui.screen.set(Screen::Blocked),
            Start::Ready(s, warning) => {
                let s: Rc<Session> = Rc::from(s);
                ui.warning.set(warning);
                ui.session.set_value(Some(s.clone()));
                browser::spawn(s.clone().load_models());
                let screen = s.screen();
                if let Screen::Trial(i) = screen {
                    s.begin(i).await;
                }
                s.send();
                let rec = s.clone();
                browser::on_attention(move |kind, state| rec.attention(kind, state));
                ui.screen.set(screen);
            }
        }
    });
    let progress = move || {
        let total = ui.session().map_or(0, |s| s.plan.trials.len());
        let at = match ui.screen.get() {
            Screen::Trial(i) => i,
            Screen::Done | Screen::Declined => total,
            _ => 0,
        };
        (at, total)
    };
    let title = move || ui.session().map(|s| s.protocol.metadata.title.clone()).unwrap_or_default();
    view! {
        <main class="study" data-testid="study" data-screen=move || match ui.screen.get() {
            Screen::Loading(_) => "loading".to_string(),
            Screen::Broken(_) => "broken".into(),
            Screen::Blocked => "blocked".into(),
            Screen::Trial(i) => format!("trial-{i}"),
            Screen::Declined => "declined".into(),
            Screen::Done => "done".into(),
        }>
            <h1>{title}</h1>
            <progress data-testid="study-progress" max=move || progress().1 value=move || progress().0></progress>
            <Show when=move || ui.warning.with(Option::is_some)>
                <p class="notice" role="alert" data-testid="study-storage-warning">{move || ui.warning.get().unwrap_or_default()}</p>
            </Show>
            <Show when=move || ui.error.with(Option::is_some)>
                <p class="error" role="alert" data-testid="study-error">{move || ui.error.get().unwrap_or_default()}</p>
            </Show>
            {move || match ui.screen.get() {
                Screen::Loading(m) => view! { <p class="muted">{m}</p> }.into_any(),
                Screen::Broken(msgs) => view! {
                    <div data-testid="study-broken"><p>"This study cannot start:"</p><ul>{msgs.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}</ul></div>
                }.into_any(),
                Screen::Blocked => view! {
                    <p data-testid="study-blocked">"This study is already open in another tab or window. Please continue there and close this one."</p>
                }.into_any(),
                Screen::Declined => view! {
                    <p data-testid="study-declined">"Thank you. You chose not to take part; only that choice was recorded. You can close this page."</p>
                }.into_any(),
                Screen::Done => trials::done(ui).into_any(),
                Screen::Trial(i) => match ui.session() {
                    Some(s) => trials::trial(ui, s, i).into_any(),
                    None => view! { <p>"…"</p> }.into_any(),
                },
            }}
        </main>
    }
}
