//! The audit log for administrators, filterable by actor, action and outcome.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::audit_log;
use crate::model::audit::AuditQuery;
use crate::model::auth::{Me, Role};
use crate::model::ApiError;
use crate::ui::form::{load_failures, utc};
use crate::ui::pages::account::RequireUser;

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <Title text="Audit log"/>
        <section class="page">
            <h1>"Audit log"</h1>
            <RequireUser path="/audit" child=|me: Me| {
                if me.role == Role::Admin {
                    view! { <AuditTable/> }.into_any()
                } else {
                    view! { <p class="form-error" role="alert">"Only administrators can read the audit log."</p> }.into_any()
                }
            }/>
        </section>
    }
}

#[component]
fn AuditTable() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let q = query.read();
        let get = |k: &str| q.get(k).filter(|v| !v.is_empty());
        AuditQuery { actor: get("actor"), action: get("action"), outcome: get("outcome"), limit: Some(200) }
    };
    let entries = Resource::new(filter, audit_log);
    let value = move |k: &'static str| move || query.read().get(k).unwrap_or_default();
    view! {
        <p>"Every action is recorded with the hash of the entry before it; "
            <code>"cipherfold audit verify"</code>" checks the whole chain."</p>
        <Form method="GET" action="" attr:class="filters">
            <div class="field">
                <label for="f-actor">"Actor (username or user id)"</label>
                <input id="f-actor" name="actor" prop:value=value("actor")/>
            </div>
            <div class="field">
                <label for="f-action">"Action starts with"</label>
                <input id="f-action" name="action" placeholder="auth." prop:value=value("action")/>
            </div>
            <div class="field">
                <label for="f-outcome">"Outcome"</label>
                <select id="f-outcome" name="outcome" prop:value=value("outcome")>
                    <option value="">"Any"</option>
                    <option value="ok">"Succeeded"</option>
                    <option value="denied">"Denied"</option>
                    <option value="failed">"Failed"</option>
                </select>
            </div>
            <button type="submit">"Filter"</button>
        </Form>
        <Transition fallback=|| view! { <p class="loading">"Loading entries…"</p> }>
            <ErrorBoundary fallback=load_failures>
                {move || Suspend::new(async move {
                    let value = entries.await?;
                    Ok::<_, ApiError>(match value {
                        rows if rows.is_empty() => view! { <p>"No entries match these filters."</p> }.into_any(),
                        rows => view! {
                            <div class="table-scroll"><table class="data" data-testid="audit-table">
                                <caption>{format!("{} most recent matching entries, newest first", rows.len())}</caption>
                                <thead><tr>
                                    <th scope="col">"#"</th><th scope="col">"Time (UTC)"</th><th scope="col">"Actor"</th>
                                    <th scope="col">"Action"</th><th scope="col">"Target"</th><th scope="col">"Client"</th>
                                    <th scope="col">"Outcome"</th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|e| view! {
                                        <tr>
                                            <td>{e.seq}</td>
                                            <td>{utc(&e.at)}</td>
                                            <td>{named(e.actor_name, e.actor)}</td>
                                            <td>{e.action}</td>
                                            <td>{named(e.target_name, e.target)}</td>
                                            <td>{e.client}</td>
                                            <td>{e.outcome}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                    })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// A name with its id under it (the id is what the hash chain recorded), or the id alone.
fn named(name: Option<String>, id: String) -> impl IntoView {
    match name {
        Some(n) => view! { <span class="named">{n}<br/><span class="mono id">{id}</span></span> }.into_any(),
        None => view! { <span class="mono">{id}</span> }.into_any(),
    }
}
