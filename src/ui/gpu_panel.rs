//! WebGPU detection at start-up: which adapter the lab got (name, software or not, key
//! limits), or why there is none, and the result of the kernel self-check
//! (`engine::gpu_check`) run on that adapter against the CPU reference.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::engine::gpu_check::{check_matmul, GpuCheckReport};
use crate::gpu::{AdapterSummary, GpuContext, GpuError};

#[derive(Clone, Debug, PartialEq)]
pub enum GpuView {
    Detecting,
    Ready { adapter: AdapterSummary, check: Option<Result<GpuCheckReport, String>> },
    Unavailable(String),
}

#[derive(Clone, Copy)]
pub struct GpuState {
    pub view: RwSignal<GpuView>,
    /// The device, kept for later GPU work (never moved across threads).
    #[allow(dead_code)]
    ctx: StoredValue<Option<GpuContext>, LocalStorage>,
}

impl GpuState {
    /// Start detection in the background and return immediately.
    pub fn detect() -> Self {
        let state = GpuState { view: RwSignal::new(GpuView::Detecting), ctx: StoredValue::new_local(None) };
        spawn_local(async move {
            if !crate::browser::has_webgpu_api() {
                state.view.set(GpuView::Unavailable(
                    "this browser exposes no WebGPU (navigator.gpu is missing)".into(),
                ));
                return;
            }
            match GpuContext::request().await {
                Err(GpuError::NoAdapter(_)) => state.view.set(GpuView::Unavailable(
                    "the browser offered no WebGPU adapter (WebGPU is disabled here, or the GPU is unsupported)".into(),
                )),
                Err(e) => state.view.set(GpuView::Unavailable(e.to_string())),
                Ok(ctx) => {
                    let adapter = ctx.summary.clone();
                    state.view.set(GpuView::Ready { adapter: adapter.clone(), check: None });
                    let check = check_matmul(&ctx).await;
                    state.view.set(GpuView::Ready { adapter, check: Some(check) });
                    state.ctx.set_value(Some(ctx));
                }
            }
        });
        state
    }
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

#[component]
pub fn GpuPanel(state: GpuState) -> impl IntoView {
    let view_sig = state.view;
    let mode = move || match view_sig.get() {
        GpuView::Detecting => "detecting",
        GpuView::Ready { .. } => "webgpu",
        GpuView::Unavailable(_) => "cpu-fallback",
    };
    let body = move || match view_sig.get() {
        GpuView::Detecting => view! { <p>"Looking for a WebGPU adapter…"</p> }.into_any(),
        GpuView::Unavailable(why) => view! {
            <p data-testid="gpu-adapter">"No WebGPU: " {why}</p>
            <p class="muted">"Everything runs on the CPU (candle, in WebAssembly)."</p>
        }
        .into_any(),
        GpuView::Ready { adapter, check } => {
            let check_view = match check {
                None => view! { <p data-testid="gpu-check" data-result="running">"Kernel self-check running…"</p> }.into_any(),
                Some(Err(e)) => view! { <p data-testid="gpu-check" data-result="error" class="error">"Kernel self-check failed to run: " {e}</p> }.into_any(),
                Some(Ok(r)) => {
                    let worst = r.shapes.iter().map(|s| s.max_abs_err).fold(0f32, f32::max);
                    let json = serde_json::to_string(&r).unwrap_or_default();
                    let result = if r.passed { "passed" } else { "failed" };
                    view! {
                        <p data-testid="gpu-check" data-result=result data-report=json class:error=!r.passed>
                            {format!("matmul kernel vs CPU reference: {result} on {} shapes (max |Δ| {:.1e})", r.shapes.len(), worst)}
                        </p>
                    }
                    .into_any()
                }
            };
            view! {
                <p data-testid="gpu-adapter" data-software=adapter.is_software.to_string()>
                    <strong>{adapter.name.clone()}</strong>
                    {format!(" · {} · {}", adapter.backend, if adapter.is_software { "software (fallback) adapter" } else { "hardware adapter" })}
                </p>
                <ul class="limits">
                    <li>{format!("max buffer: {}", mib(adapter.max_buffer_size))}</li>
                    <li>{format!("max storage binding: {}", mib(adapter.max_storage_buffer_binding_size))}</li>
                    <li>{format!("workgroup memory: {} KiB", adapter.max_compute_workgroup_storage_size / 1024)}</li>
                    <li>{format!("invocations/workgroup: {}", adapter.max_compute_invocations_per_workgroup)}</li>
                </ul>
                {check_view}
                <p class="muted">"Training in this version runs on the CPU; the GPU training engine builds on these kernels."</p>
            }
            .into_any()
        }
    };
    view! {
        <section class="panel gpu" data-testid="gpu-panel" data-mode=mode>
            <h2>"Compute"</h2>
            {body}
        </section>
    }
}
