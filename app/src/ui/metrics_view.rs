//! A model's figures as a person reads them: the main metrics, the confusion matrix (a
//! plotters chart and a table with the same numbers) and per-class figures; for regression,
//! predicted against actual and the residuals.

use leptos::prelude::*;

use crate::ml::metrics::Metrics;

#[component]
pub fn MetricsView(m: Metrics) -> impl IntoView {
    match m {
        Metrics::Regression(r) => view! {
            <h2>"Cross-validated metrics"</h2>
            <dl class="facts" data-testid="metrics">
                <dt>"R²"</dt><dd>{format!("{:.4}", r.r2)}</dd>
                <dt>"RMSE"</dt><dd>{format!("{:.4}", r.rmse)}</dd>
                <dt>"MAE"</dt><dd>{format!("{:.4}", r.mae)}</dd>
            </dl>
            {r.fit.map(|f| view! {
                <figure class="chart" data-testid="fit-chart">
                    <div role="img" aria-label="Heat map of the out-of-fold predictions against the actual values, in bins, with the line where they are equal"
                        inner_html=crate::ui::chart::fit_chart(&f)></div>
                    <figcaption>"Rows per cell of actual (across) and predicted (up) values, each row predicted by a model that did not see it. Cells on the line are right."</figcaption>
                </figure>
                <figure class="chart" data-testid="residual-chart">
                    <div role="img" aria-label="Histogram of the residuals, predicted minus actual"
                        inner_html=crate::ui::chart::residual_chart(&f)></div>
                    <figcaption>"Rows by how far their prediction was from the actual value: centred on 0 when the model is not biased."</figcaption>
                </figure>
            })}
        }
        .into_any(),
        Metrics::Classification(c) => view! {
            <h2>"Cross-validated metrics"</h2>
            <dl class="facts" data-testid="metrics">
                <dt>"Accuracy"</dt><dd>{format!("{:.4}", c.accuracy)}</dd>
                <dt>"Precision (macro)"</dt><dd>{format!("{:.4}", c.precision_macro)}</dd>
                <dt>"Recall (macro)"</dt><dd>{format!("{:.4}", c.recall_macro)}</dd>
                <dt>"F1 (macro)"</dt><dd>{format!("{:.4}", c.f1_macro)}</dd>
                {c.roc_auc.map(|a| view! { <dt>"ROC-AUC"</dt><dd>{format!("{a:.4}")}</dd> })}
            </dl>
            <figure class="chart">
                <div role="img" aria-label="Confusion matrix chart; the same numbers are in the table below"
                    inner_html=crate::ui::chart::confusion_chart(&c.labels, &c.confusion)></div>
            </figure>
            <figure class="chart">
                <div role="img" aria-label="Precision, recall and F1 per class; the same numbers are in the per-class table"
                    inner_html=crate::ui::chart::per_class_chart(&c)></div>
            </figure>
            <div class="table-scroll"><table class="data">
                <caption>"Confusion matrix: rows are the true class, columns the predicted class"</caption>
                <thead><tr><th scope="col">"True \\ predicted"</th>
                    {c.labels.iter().map(|l| view! { <th scope="col">{l.clone()}</th> }).collect_view()}
                </tr></thead>
                <tbody>
                    {c.confusion.iter().zip(&c.labels).map(|(row, l)| view! {
                        <tr><th scope="row">{l.clone()}</th>{row.iter().map(|n| view! { <td>{*n}</td> }).collect_view()}</tr>
                    }).collect_view()}
                </tbody>
            </table></div>
            <div class="table-scroll"><table class="data">
                <caption>"Per class"</caption>
                <thead><tr><th scope="col">"Class"</th><th scope="col">"Precision"</th><th scope="col">"Recall"</th><th scope="col">"F1"</th><th scope="col">"Rows"</th></tr></thead>
                <tbody>
                    {c.per_class.iter().map(|k| view! {
                        <tr><td>{k.label.clone()}</td><td>{format!("{:.3}", k.precision)}</td><td>{format!("{:.3}", k.recall)}</td>
                            <td>{format!("{:.3}", k.f1)}</td><td>{k.support}</td></tr>
                    }).collect_view()}
                </tbody>
            </table></div>
        }
        .into_any(),
    }
}
