//! The area's dashboard: training history, model quality over time, a sortable performance
//! table, contributions per user and joint jobs; for admins, system health refreshed every
//! five seconds.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{get_dashboard, get_system_health};
use crate::model::analytics::{Dashboard, ModelPoint, SystemHealth};
use crate::model::auth::{Me, Role};
use crate::model::dataset::human_bytes;
use crate::ui::chart::{line_chart, Series};
use crate::ui::form::{load_failure, utc};
use crate::ui::pages::account::RequireUser;

#[component]
pub fn AnalyticsPage() -> impl IntoView {
    view! {
        <Title text="Analytics"/>
        <section class="page">
            <h1>"Analytics"</h1>
            <RequireUser path="/analytics" child=|me: Me| view! {
                <AreaDashboard/>
                {(me.role == Role::Admin).then(|| view! { <Health/> })}
            }/>
        </section>
    }
}

#[component]
fn AreaDashboard() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_dashboard());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the dashboard…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(Ok(d)) => view! { <DashboardView d/> }.into_any(),
                    Ok(Err(e)) => load_failure(Ok(e)),
                    Err(e) => load_failure(Err(e)),
                }
            })}
        </Suspense>
    }
}

/// Jobs per day, one line per status.
fn history_series(d: &Dashboard) -> (Vec<Series>, Vec<String>) {
    let mut days: Vec<String> = d.history.iter().map(|h| h.day.clone()).collect();
    days.sort();
    days.dedup();
    let mut statuses: Vec<String> = d.history.iter().map(|h| h.status.clone()).collect();
    statuses.sort();
    statuses.dedup();
    let series = statuses
        .into_iter()
        .map(|s| Series {
            points: days
                .iter()
                .enumerate()
                .map(|(i, day)| ((i + 1) as f64, d.history.iter().filter(|h| &h.day == day && h.status == s).map(|h| h.jobs).sum::<u64>() as f64))
                .collect(),
            name: s,
        })
        .collect();
    (series, days)
}

/// Scores version after version, one line per dataset (or set of datasets) and model kind.
fn quality_series(models: &[ModelPoint]) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for m in models {
        let name = format!("{} on {} ({})", m.kind, m.datasets.join(" + "), m.metric);
        match out.iter_mut().find(|s| s.name == name) {
            Some(s) => {
                let x = s.points.len() as f64 + 1.0;
                s.points.push((x, m.score));
            }
            None => out.push(Series { name, points: vec![(1.0, m.score)] }),
        }
    }
    // The four lines with the most versions; every figure is in the table below.
    out.sort_by_key(|s| std::cmp::Reverse(s.points.len()));
    out.into_iter().take(4).collect()
}

#[derive(Clone, Copy, PartialEq)]
enum SortBy {
    Score,
    Newest,
    Kind,
}

#[component]
fn DashboardView(d: Dashboard) -> impl IntoView {
    let (history, days) = history_series(&d);
    let history_chart = line_chart("Training jobs per day", "day", "jobs", &history);
    let quality_chart = line_chart("Model quality, version after version", "version", "score", &quality_series(&d.models));
    let range = match (days.first(), days.last()) {
        (Some(a), Some(b)) if a != b => format!("Days {a} to {b} (UTC), one point per day with jobs."),
        (Some(a), _) => format!("{a} (UTC)."),
        _ => "No jobs yet.".to_owned(),
    };
    let sort = RwSignal::new(SortBy::Score);
    let models = StoredValue::new(d.models.clone());
    let rows = move || {
        let mut m = models.get_value();
        match sort.get() {
            SortBy::Score => m.sort_by(|a, b| b.score.total_cmp(&a.score)),
            SortBy::Newest => m.sort_by(|a, b| b.created_at.cmp(&a.created_at)),
            SortBy::Kind => m.sort_by(|a, b| a.kind.cmp(&b.kind).then(b.score.total_cmp(&a.score))),
        }
        m
    };
    let sort_button = move |by: SortBy, label: &'static str| {
        view! {
            <button type="button" aria-pressed=move || if sort.get() == by { "true" } else { "false" } on:click=move |_| sort.set(by)>
                {label}
            </button>
        }
    };
    view! {
        <p>{format!("Your area: {} · {}. Everything here counts jobs, models and datasets of this area only.", d.domain, d.subdomain)}</p>
        <h2>"Training history"</h2>
        <figure class="chart" data-testid="history-chart">
            <div role="img" aria-label=format!("Chart of training jobs per day by status. {range}") inner_html=history_chart></div>
            <figcaption>{range.clone()}</figcaption>
        </figure>
        <h2>"Model quality over time"</h2>
        <figure class="chart">
            <div role="img" aria-label="Chart of each model kind's cross-validated score, version after version; the table below has every figure"
                inner_html=quality_chart></div>
        </figure>
        <h2>"Model performance"</h2>
        <p class="sort">"Sort by: " {sort_button(SortBy::Score, "Score")} " " {sort_button(SortBy::Newest, "Newest")} " " {sort_button(SortBy::Kind, "Kind")}</p>
        <table class="data" data-testid="performance-table">
            <caption>{format!("{} model versions", d.models.len())}</caption>
            <thead><tr>
                <th scope="col">"Model"</th><th scope="col">"Target"</th><th scope="col">"Score"</th>
                <th scope="col">"Datasets"</th><th scope="col">"Owner"</th><th scope="col">"Created (UTC)"</th>
            </tr></thead>
            <tbody>
                {move || rows().into_iter().map(|m| view! {
                    <tr>
                        <td><a href=format!("/models/{}", m.model_id) rel="external">{m.kind.clone()}</a></td>
                        <td>{m.target.clone()}</td>
                        <td>{format!("{} {:.3}", if m.metric == "r2" { "R²" } else { "accuracy" }, m.score)}</td>
                        <td>{m.datasets.join(", ")}</td>
                        <td>{m.owner.clone()}</td>
                        <td>{utc(&m.created_at)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <h2>"Contributions"</h2>
        <table class="data" data-testid="contributions-table">
            <caption>"Per person: datasets shared or owned in this area, their rows, jobs run and models trained"</caption>
            <thead><tr><th scope="col">"Person"</th><th scope="col">"Datasets"</th><th scope="col">"Rows"</th><th scope="col">"Jobs"</th><th scope="col">"Models"</th></tr></thead>
            <tbody>
                {d.contributions.iter().map(|c| view! {
                    <tr><td>{c.user.clone()}</td><td>{c.datasets}</td><td>{c.rows}</td><td>{c.jobs}</td><td>{c.models}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
        <h2>"Collaboration"</h2>
        {if d.collaborations.is_empty() {
            view! { <p>"No joint jobs yet: a job that trains on several people's datasets (with their consent) appears here."</p> }.into_any()
        } else {
            view! {
                <table class="data" data-testid="collaboration-table">
                    <caption>{format!("{} joint jobs", d.collaborations.len())}</caption>
                    <thead><tr><th scope="col">"Job"</th><th scope="col">"Started by"</th><th scope="col">"Who took part"</th><th scope="col">"Status"</th></tr></thead>
                    <tbody>
                        {d.collaborations.iter().map(|c| view! {
                            <tr>
                                <td><a href=format!("/jobs/{}", c.job_id) rel="external">{utc(&c.created_at)}</a></td>
                                <td>{c.started_by.clone()}</td><td>{c.participants.join(", ")}</td><td>{c.status.clone()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

/// Admins: the machine and the queue, fetched again every five seconds.
#[component]
fn Health() -> impl IntoView {
    let tick = RwSignal::new(0u64);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let _ = set_interval_with_handle(move || tick.update(|t| *t += 1), std::time::Duration::from_secs(5));
    });
    let health = Resource::new(move || tick.get(), |_| get_system_health());
    view! {
        <h2>"System health"</h2>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match health.await {
                    Ok(Ok(h)) => view! { <HealthView h/> }.into_any(),
                    Ok(Err(e)) => load_failure(Ok(e)),
                    Err(e) => load_failure(Err(e)),
                }
            })}
        </Transition>
    }
}

#[component]
fn HealthView(h: SystemHealth) -> impl IntoView {
    let pct = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 * 100.0 / b as f64 };
    view! {
        <dl class="facts" data-testid="system-health">
            <dt>"CPU"</dt><dd>{format!("{:.0} %", h.cpu_percent)}</dd>
            <dt>"Memory"</dt><dd>{format!("{} of {} ({:.0} %)", human_bytes(h.memory_used), human_bytes(h.memory_total), pct(h.memory_used, h.memory_total))}</dd>
            <dt>"Disk (data directory)"</dt><dd>{format!("{} free of {}", human_bytes(h.disk_free), human_bytes(h.disk_total))}</dd>
            <dt>"Queue"</dt><dd>{format!("{} queued, {} running on {} workers", h.queued_jobs, h.running_jobs, h.workers)}</dd>
            <dt>"Throughput"</dt><dd>{format!("{} jobs ended in the last hour", h.finished_last_hour)}</dd>
            <dt>"Checked (UTC)"</dt><dd>{utc(&h.checked_at)}</dd>
        </dl>
    }
}
