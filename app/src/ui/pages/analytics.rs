//! The area's dashboard: training history, model quality over time, a sortable performance
//! table, contributions per user and joint jobs; for admins, system health refreshed every
//! five seconds.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{get_dashboard, get_system_health};
use crate::model::analytics::{Dashboard, ModelPoint, SystemHealth};
use crate::model::auth::{Me, Role};
use crate::model::dataset::human_bytes;
use crate::model::ApiError;
use crate::ui::chart::{grouped_bars, score_chart, BarSeries, Series};
use crate::ui::form::{count, load_failures, utc};
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
        <Transition fallback=|| view! { <p class="loading">"Loading the dashboard…"</p> }>
            <ErrorBoundary fallback=load_failures>
                {move || Suspend::new(async move {
                    let d = data.await?;
                    Ok::<_, ApiError>(view! { <DashboardView d/> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// Days shown in the history chart: the most recent with jobs.
const HISTORY_DAYS: usize = 14;

/// Jobs per day (the last [`HISTORY_DAYS`] with jobs), one bar per status; the days, and
/// the highest count.
fn history_bars(d: &Dashboard) -> (Vec<BarSeries>, Vec<String>, f64) {
    let mut days: Vec<String> = d.history.iter().map(|h| h.day.clone()).collect();
    days.sort();
    days.dedup();
    let days = days.split_off(days.len().saturating_sub(HISTORY_DAYS));
    // Statuses in the order a job moves through them.
    let statuses = ["queued", "running", "succeeded", "failed", "cancelled"];
    let jobs_on = |day: &String, s: &str| d.history.iter().filter(|h| &h.day == day && h.status == s).map(|h| h.jobs).sum::<u64>() as f64;
    let series: Vec<BarSeries> = statuses
        .iter()
        .filter(|s| d.history.iter().any(|h| days.contains(&h.day) && h.status == **s))
        .map(|s| BarSeries { name: (*s).to_owned(), values: days.iter().map(|day| jobs_on(day, s)).collect() })
        .collect();
    let most = series.iter().flat_map(|s| s.values.iter().copied()).fold(0.0, f64::max);
    (series, days, most)
}

/// Scores of one metric (`accuracy` or `r2`) version after version, one line per dataset (or
/// set of datasets) and model kind.
fn quality_series(models: &[ModelPoint], metric: &str) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for m in models.iter().filter(|m| m.metric == metric) {
        let name = format!("{} on {}", m.kind, m.datasets.join(" + "));
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

/// Differentially private versions' scores of one metric against the ε they spent, one line
/// per model kind and target, ε increasing.
fn privacy_series(models: &[ModelPoint], metric: &str) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for m in models.iter().filter(|m| m.metric == metric) {
        let Some(eps) = m.epsilon else { continue };
        let name = format!("{} → {}", m.kind, m.target);
        match out.iter_mut().find(|s| s.name == name) {
            Some(s) => s.points.push((eps, m.score)),
            None => out.push(Series { name, points: vec![(eps, m.score)] }),
        }
    }
    for s in &mut out {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum SortBy {
    Score,
    Newest,
    Kind,
}

#[component]
fn DashboardView(d: Dashboard) -> impl IntoView {
    let (history, days, most) = history_bars(&d);
    // Month and day under the bars (the caption has the years).
    let short: Vec<String> = days.iter().map(|d| d.get(5..).unwrap_or(d).to_owned()).collect();
    let history_chart = grouped_bars("Training jobs per day (UTC)", "jobs", &short, &history, most.max(1.0), true);
    // One metric per chart: accuracy and R² are not on one scale.
    let metrics = [("accuracy", "accuracy"), ("r2", "R²")];
    let quality: Vec<(&str, Vec<Series>)> =
        metrics.into_iter().map(|(m, name)| (name, quality_series(&d.models, m))).filter(|(_, s)| !s.is_empty()).collect();
    let privacy: Vec<(&str, Vec<Series>)> =
        metrics.into_iter().map(|(m, name)| (name, privacy_series(&d.models, m))).filter(|(_, s)| !s.is_empty()).collect();
    let range = match (days.first(), days.last()) {
        (Some(a), Some(b)) if a != b => format!("Days with jobs from {a} to {b} (UTC), the last {HISTORY_DAYS} at most; bars by status."),
        (Some(a), _) => format!("{a} (UTC); bars by status."),
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
        <p>{format!("Your area: {}. Everything here counts jobs, models and datasets of this area only.", crate::model::catalog::area_name(&d.domain, &d.subdomain))}</p>
        <h2>"Training history"</h2>
        <figure class="chart" data-testid="history-chart">
            <div role="img" aria-label=format!("Chart of training jobs per day by status. {range}") inner_html=history_chart></div>
            <figcaption>{range.clone()}</figcaption>
        </figure>
        <h2>"Model quality over time"</h2>
        {quality.is_empty().then(|| view! { <p>"No models yet: each trained model version appears here with its score."</p> })}
        {quality.into_iter().map(|(name, series)| view! {
            <figure class="chart" data-testid="quality-chart">
                <div role="img" aria-label=format!("Chart of each model kind's cross-validated {name}, version after version; the table below has every figure")
                    inner_html=score_chart(&format!("Models' {name}, version after version"), "version", name, &series)></div>
            </figure>
        }).collect_view()}
        {(!privacy.is_empty()).then(|| view! { <h2>"Quality against privacy"</h2> })}
        {privacy.into_iter().map(|(name, series)| view! {
            <figure class="chart" data-testid="privacy-chart">
                <div role="img" aria-label=format!("Chart of the differentially private models' {name} against the ε each spent; the table below has every figure")
                    inner_html=score_chart(&format!("{} against privacy spent", crate::ui::form::capitalise(name)), "ε", name, &series)></div>
                <figcaption>"Models trained with differential privacy: smaller ε is more private."</figcaption>
            </figure>
        }).collect_view()}
        <h2>"Model performance"</h2>
        <p class="sort">"Sort by: " {sort_button(SortBy::Score, "Score")} " " {sort_button(SortBy::Newest, "Newest")} " " {sort_button(SortBy::Kind, "Kind")}</p>
        <div class="table-scroll"><table class="data" data-testid="performance-table">
            <caption>{count(d.models.len() as u64, "model version", "model versions")}</caption>
            <thead><tr>
                <th scope="col">"Model"</th><th scope="col">"Target"</th><th scope="col">"Score"</th><th scope="col">"ε"</th>
                <th scope="col">"Datasets"</th><th scope="col">"Owner"</th><th scope="col">"Created (UTC)"</th>
            </tr></thead>
            <tbody>
                {move || rows().into_iter().map(|m| view! {
                    <tr>
                        <td><a href=format!("/models/{}", m.model_id)>{m.kind.clone()}</a></td>
                        <td>{m.target.clone()}</td>
                        <td>{format!("{} {:.3}", if m.metric == "r2" { "R²" } else { "accuracy" }, m.score)}</td>
                        <td>{m.epsilon.map_or_else(|| "no DP".to_owned(), |e| format!("{e:.2}"))}</td>
                        <td>{m.datasets.join(", ")}</td>
                        <td>{m.owner.clone()}</td>
                        <td>{utc(&m.created_at)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table></div>
        <h2>"Contributions"</h2>
        <div class="table-scroll"><table class="data" data-testid="contributions-table">
            <caption>"Per person: datasets shared or owned in this area, their rows, jobs run and models trained"</caption>
            <thead><tr><th scope="col">"Person"</th><th scope="col">"Datasets"</th><th scope="col">"Rows"</th><th scope="col">"Jobs"</th><th scope="col">"Models"</th></tr></thead>
            <tbody>
                {d.contributions.iter().map(|c| view! {
                    <tr><td>{c.user.clone()}</td><td>{c.datasets}</td><td>{c.rows}</td><td>{c.jobs}</td><td>{c.models}</td></tr>
                }).collect_view()}
            </tbody>
        </table></div>
        <h2>"Collaboration"</h2>
        {if d.collaborations.is_empty() {
            view! { <p>"No joint jobs yet: a job that trains on several people's datasets (with their consent) appears here."</p> }.into_any()
        } else {
            view! {
                <div class="table-scroll"><table class="data" data-testid="collaboration-table">
                    <caption>{format!("{} joint jobs", d.collaborations.len())}</caption>
                    <thead><tr><th scope="col">"Job"</th><th scope="col">"Started by"</th><th scope="col">"Who took part"</th><th scope="col">"Status"</th></tr></thead>
                    <tbody>
                        {d.collaborations.iter().map(|c| view! {
                            <tr>
                                <td><a href=format!("/jobs/{}", c.job_id)>{utc(&c.created_at)}</a></td>
                                <td>{c.started_by.clone()}</td><td>{c.participants.join(", ")}</td><td>{c.status.clone()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table></div>
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
            <ErrorBoundary fallback=load_failures>
                {move || Suspend::new(async move {
                    let h = health.await?;
                    Ok::<_, ApiError>(view! { <HealthView h/> })
                })}
            </ErrorBoundary>
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
            <dt>"Queue"</dt><dd>{format!("{} queued, {} running on {}", h.queued_jobs, h.running_jobs, count(h.workers, "worker", "workers"))}</dd>
            <dt>"Throughput"</dt><dd>{format!("{} in the last hour", count(h.finished_last_hour, "job ended", "jobs ended"))}</dd>
            <dt>"Checked (UTC)"</dt><dd>{utc(&h.checked_at)}</dd>
        </dl>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::analytics::DayCount;

    #[test]
    fn history_bars_keep_the_last_days_and_order_statuses_as_jobs_move() {
        let day = |n: usize| format!("2026-10-{n:02}");
        let mut history: Vec<DayCount> = (1..=20).map(|n| DayCount { day: day(n), status: "succeeded".into(), jobs: 1 }).collect();
        history.push(DayCount { day: day(20), status: "failed".into(), jobs: 3 });
        history.push(DayCount { day: day(2), status: "cancelled".into(), jobs: 9 }); // outside the window
        let d =
            Dashboard { domain: "d".into(), subdomain: "s".into(), history, models: vec![], contributions: vec![], collaborations: vec![] };
        let (series, days, most) = history_bars(&d);
        assert_eq!(days.len(), HISTORY_DAYS);
        assert_eq!((days[0].as_str(), days[HISTORY_DAYS - 1].as_str()), ("2026-10-07", "2026-10-20"));
        let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["succeeded", "failed"], "statuses without jobs in the window are left out");
        assert_eq!(series[1].values[HISTORY_DAYS - 1], 3.0);
        assert_eq!(series[1].values[0], 0.0);
        assert_eq!(most, 3.0);
        assert_eq!(count(1u64, "worker", "workers"), "1 worker");
        assert_eq!(count(0u64, "worker", "workers"), "0 workers");
    }
}
