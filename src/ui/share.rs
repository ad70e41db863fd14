//! Sharing: the "Copy link" button (`copy-link`) puts the page's address on the clipboard
//! — every page keeps its state in the address bar through `browser::url`, so the address
//! *is* the link — and shows it in a read-only field (`share-link`) to copy by hand when
//! the clipboard is refused (`copy-link-status` says which). Embed mode (`embed=1`) and
//! `hide=` parts come from the link (`core::share::HIDEABLE`).

use leptos::prelude::*;

use crate::browser;
use crate::engine::Backend;

/// Which parts of the lab page a link hides (`hide=a,b`; `embed=1` hides the top bar too).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hidden {
    pub embed: bool,
    parts: Vec<String>,
}

impl Hidden {
    pub fn from_query(query: &[(String, String)]) -> Self {
        let last = |k: &str| query.iter().rev().find(|(q, _)| q == k).map(|(_, v)| v.trim().to_string());
        let embed = matches!(last("embed").as_deref(), Some("1" | "true"));
        let parts = last("hide")
            .map(|v| v.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect())
            .unwrap_or_default();
        Hidden { embed, parts }
    }

    pub fn hides(&self, part: &str) -> bool {
        self.parts.iter().any(|p| p == part) || (self.embed && part == "topbar")
    }

    /// `display` for a part: `shown` when visible.
    pub fn display(&self, part: &str, shown: &'static str) -> &'static str {
        if self.hides(part) {
            "none"
        } else {
            shown
        }
    }
}

/// What a copied run link reproduces, by where the run trains (the tolerances measured in
/// `tests/gpu_train.rs` and the browser tests).
fn promise(backend: Backend) -> &'static str {
    match backend {
        Backend::Webgpu => "This run trains on WebGPU: the link gives bit-identical runs on WebGPU and matches the CPU path within 2e-7 relative loss (measured over 10 steps); backend=cpu in the link reproduces bit for bit in any browser.",
        Backend::Cpu => "The link reproduces this run bit for bit in any browser (the CPU path is deterministic).",
    }
}

#[component]
pub fn CopyLink(#[prop(into)] backend: Signal<Backend>) -> impl IntoView {
    let link = RwSignal::new(None::<String>);
    let status = RwSignal::new(String::new());
    let copy = move |_| {
        let href = browser::url::href();
        link.set(Some(href.clone()));
        browser::spawn(async move {
            let how = promise(backend.get_untracked());
            status.set(match browser::copy_text(&href).await {
                Ok(()) => format!("Link copied ({} characters). {how}", href.len()),
                Err(e) => format!("Copy it from the field ({e}). {how}"),
            });
        });
    };
    view! {
        <span class="share">
            <button data-testid="copy-link" title="Copy a link that reopens this page with the same settings and seed" on:click=copy>"Copy link"</button>
            {move || link.get().map(|l| view! {
                <div class="share-pop">
                    <input data-testid="share-link" class="share-link" readonly value=l on:focus=|ev| browser::select_text(&ev)/>
                    <span class="muted" data-testid="copy-link-status">{move || status.get()}</span>
                    <button class="share-close" data-testid="share-close" title="close" on:click=move |_| link.set(None)>"Close"</button>
                </div>
            })}
        </span>
    }
}

/// In embed mode: a link to the full lab with the same settings.
#[component]
pub fn OpenFull() -> impl IntoView {
    let href = move || {
        let pairs: Vec<(String, String)> =
            browser::url::query_pairs().into_iter().filter(|(k, _)| k != "embed" && k != "hide").collect();
        format!("?{}", crate::core::share::to_query(&crate::core::share::encode(&pairs)))
    };
    view! { <a class="open-full" data-testid="open-full" href=href target="_blank" rel="noopener">"Open in interlab ↗"</a> }
}
