//! Action steps: render the config, call the plugin under the step's deadline, judge `until` and the
//! assertions, capture — attempt after attempt as `retry` says, pausing between attempts with
//! fixed or exponential backoff (and jitter), stopped by cancellation and deadlines.

use super::capture;
use super::judge::{self, Judged};
use super::result::{StepResult, StepStatus};
use super::run::{Place, Run, StepDataOut, humantime};
use crate::flow::{Backoff, PluginRef, Retry, SpannedValue, Step};
use crate::sandbox::{ActionInput, CallContext, CallError, CallOptions, Limits, PluginKind};
use rand::RngExt;
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

/// How close to its deadline a failed call must end to count as timed out.
const DEADLINE_SLACK: Duration = Duration::from_millis(25);

/// Runs an action step into `result`; returns what later steps see of it (its last output).
pub(crate) async fn run(
    run: &Run<'_>,
    place: &Place,
    step: &Step,
    reference: &PluginRef,
    config: &SpannedValue,
    result: &mut StepResult,
) -> StepDataOut {
    let resolved = match run.runner.registry.resolve(reference, PluginKind::Action).await {
        Ok(resolved) => resolved,
        Err(error) => {
            result.status = StepStatus::Error;
            result.error = Some(error.to_string());
            return None;
        }
    };
    let retry = step.retry.clone().unwrap_or(Retry {
        max_attempts: 1,
        delay: Duration::ZERO,
        backoff: Backoff::Fixed,
        max_delay: None,
        jitter: false,
        until: None,
        span: step.span,
    });
    let own_timeout = step.timeout.unwrap_or(run.runner.options.default_step_timeout);
    let mut last_output: Option<Value> = None;
    let mut attempt = 0;
    loop {
        attempt += 1;
        result.attempts = attempt;
        if place.cancel.is_cancelled() {
            result.status = StepStatus::Cancelled;
            result.error = Some("the run was cancelled".into());
            break;
        }
        // The call's deadline: the step's own timeout, or what is left of an enclosing one.
        let (deadline, outer) = match place.deadline {
            Some(outer) => {
                let left = outer.at.saturating_duration_since(Instant::now());
                if left < own_timeout { (left, Some(outer)) } else { (own_timeout, None) }
            }
            None => (own_timeout, None),
        };
        if deadline.is_zero() {
            if outer.is_some_and(|o| o.is_flow) {
                run.flow_deadline_hit();
            }
            result.status = StepStatus::Timeout;
            result.error = Some(timeout_message(own_timeout, outer, attempt));
            break;
        }
        let rendered = match run.render_context(place).render_value(&config.value) {
            Ok(rendered) => rendered,
            Err(errors) => {
                let lines: Vec<String> = errors
                    .iter()
                    .map(|e| {
                        let at = config.span_at(&e.pointer);
                        format!("`{}` (line {}, column {}): {e}", config_path(&e.pointer), at.line, at.column)
                    })
                    .collect();
                result.error_span = errors.first().map(|e| config.span_at(&e.pointer));
                result.status = StepStatus::Error;
                result.error = Some(lines.join("\n"));
                break;
            }
        };
        run.add_masks(rendered.secrets);
        let context = CallContext {
            run_id: run.run_id.clone(),
            flow_name: place.flow.name.clone(),
            step_id: result.path.clone(),
            attempt,
        };
        let options = CallOptions {
            limits: Limits { deadline, ..run.runner.options.limits },
            fresh_instance: false,
            cancel: Some(place.cancel.clone()),
        };
        let input =
            ActionInput { context: &context, operation: reference.operation.as_deref(), config: &rendered.value };
        let report = run.session.run_action(&resolved.plugin, &resolved.grants, input, &options).await;
        result.config = rendered.value;
        result.logs = report.logs;
        result.assertions.clear();
        match report.result {
            Ok(output) => {
                let path = result.path.clone();
                let judged = Judged { step_path: &path, attempt };
                judge_output(run, place, step, &retry, &judged, &output, result).await;
                last_output = Some(output);
            }
            Err(CallError::Timeout { .. }) => {
                if outer.is_some_and(|o| o.is_flow) {
                    run.flow_deadline_hit();
                }
                result.status = StepStatus::Timeout;
                result.error = Some(timeout_message(own_timeout, outer, attempt));
            }
            Err(CallError::Cancelled) => {
                result.status = StepStatus::Cancelled;
                result.error = Some("the run was cancelled while the step ran".into());
                break;
            }
            // A plugin that gives up on its own because its deadline came (an HTTP client with the
            // time left as its timeout) timed out as much as one that was interrupted.
            Err(error) if report.duration + DEADLINE_SLACK >= deadline => {
                if outer.is_some_and(|o| o.is_flow) {
                    run.flow_deadline_hit();
                }
                result.status = StepStatus::Timeout;
                result.error = Some(format!("{} ({error})", timeout_message(own_timeout, outer, attempt)));
            }
            Err(error) => {
                result.status = StepStatus::Error;
                result.error = Some(error.to_string());
            }
        }
        // Only a timeout of the step's own deadline is worth another attempt; an enclosing one has
        // no time left.
        let outer_timeout = result.status == StepStatus::Timeout && outer.is_some();
        if result.status == StepStatus::Passed || attempt >= retry.max_attempts || outer_timeout {
            break;
        }
        if !pause(place, pause_before(&retry, attempt)).await {
            break;
        }
    }
    if attempt > 1
        && result.status.is_failure()
        && let Some(error) = &mut result.error
    {
        *error = format!("{error} (after {attempt} attempts)");
    }
    let output = last_output?;
    capture_outputs(step, &output, result);
    result.output = capped(&output, run.runner.options.max_result_output_bytes);
    Some(super::run::step_data(output))
}

/// Judges one attempt's output: `retry.until` first (when written), then the assertions.
async fn judge_output(
    run: &Run<'_>,
    place: &Place,
    step: &Step,
    retry: &Retry,
    judged: &Judged<'_>,
    output: &Value,
    result: &mut StepResult,
) {
    if let Some(until) = &retry.until {
        match judge::expressions(run, place, judged, &[(until.text.as_str(), None)], Some(output)).await {
            Ok(verdicts) if verdicts.first().is_some_and(|v| v.passed) => {}
            Ok(verdicts) => {
                let why = verdicts.first().map(|v| v.message.clone()).unwrap_or_default();
                result.status = StepStatus::Failed;
                result.error = Some(format!("retry.until `{}` did not hold: {why}", until.text));
                return;
            }
            Err(error) => {
                result.status = StepStatus::Error;
                result.error = Some(format!("retry.until `{}` could not be judged: {error}", until.text));
                return;
            }
        }
    }
    result.assertions = judge::assertions(run, place, judged, &step.assert, output).await;
    let failed = result.assertions.iter().filter(|a| !a.passed).count();
    if failed == 0 {
        result.status = StepStatus::Passed;
        result.error = None;
    } else {
        result.status = StepStatus::Failed;
        result.error = Some(format!("{failed} of {} assertions failed", result.assertions.len()));
    }
}

/// The assertions and captures of a control step (a `run_flow`'s output is the sub-flow's
/// captures; a loop's is its counts), judged once its nested steps passed.
pub(crate) async fn judge_control_output(
    run: &Run<'_>,
    place: &Place,
    step: &Step,
    output: &Value,
    result: &mut StepResult,
) {
    if result.status != StepStatus::Passed || (step.assert.is_empty() && step.output.is_empty()) {
        return;
    }
    if !step.assert.is_empty() {
        let path = result.path.clone();
        let judged = Judged { step_path: &path, attempt: 1 };
        result.assertions = judge::assertions(run, place, &judged, &step.assert, output).await;
        let failed = result.assertions.iter().filter(|a| !a.passed).count();
        if failed > 0 {
            result.status = StepStatus::Failed;
            result.error = Some(format!("{failed} of {} assertions failed", result.assertions.len()));
        }
    }
    capture_outputs(step, output, result);
}

/// A config JSON pointer as people read it: `/json/items/0` → `config.json.items[0]`.
fn config_path(pointer: &str) -> String {
    let mut path = String::from("config");
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() {
            path.push_str(&format!("[{segment}]"));
        } else {
            path.push('.');
            path.push_str(&segment);
        }
    }
    path
}

/// Evaluates the step's captures into `result.captures`. A capture that matches nothing fails a
/// passed step (later steps would use a value that is not there); on a failed step captures are
/// best effort.
fn capture_outputs(step: &Step, output: &Value, result: &mut StepResult) {
    let mut captures = Map::new();
    let mut errors = Vec::new();
    let mut first_span = None;
    for spec in &step.output {
        match capture::capture(spec, output) {
            Ok(value) => {
                captures.insert(spec.name.clone(), value);
            }
            Err(error) => {
                if errors.is_empty() {
                    first_span = Some(spec.span);
                }
                errors.push(format!("{error} (line {})", spec.span.line));
            }
        }
    }
    if !errors.is_empty() && result.status == StepStatus::Passed {
        result.error_span = first_span;
        result.status = StepStatus::Error;
        result.error = Some(errors.join("\n"));
    }
    result.captures = captures;
}

/// The pause after attempt `attempt` (1-based): `delay`, doubled per attempt under exponential
/// backoff up to `max_delay`, and with jitter a random pause between half and all of that.
fn pause_before(retry: &Retry, attempt: u32) -> Duration {
    let mut pause = retry.delay;
    if retry.backoff == Backoff::Exponential {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
        pause = pause.saturating_mul(factor);
        if let Some(max) = retry.max_delay {
            pause = pause.min(max);
        }
    }
    if retry.jitter && !pause.is_zero() {
        let half = pause / 2;
        let extra = rand::rng().random_range(0..=half.as_micros().min(u64::MAX as u128) as u64);
        pause = half + Duration::from_micros(extra);
    }
    pause
}

/// Sleeps `pause` unless cancelled or the deadline comes first; whether to go on.
async fn pause(place: &Place, pause: Duration) -> bool {
    let pause = match place.deadline {
        Some(deadline) => pause.min(deadline.at.saturating_duration_since(Instant::now())),
        None => pause,
    };
    tokio::select! {
        _ = tokio::time::sleep(pause) => !place.expired(),
        _ = place.cancel.cancelled() => false,
    }
}

fn timeout_message(own: Duration, outer: Option<super::run::Deadline>, attempt: u32) -> String {
    match outer {
        Some(outer) if outer.is_flow => {
            format!("the flow's timeout of {} expired during attempt {attempt}", humantime(outer.length))
        }
        Some(outer) => {
            format!("the enclosing timeout of {} expired during attempt {attempt}", humantime(outer.length))
        }
        None => format!("the step's timeout of {} expired; the plugin call was interrupted", humantime(own)),
    }
}

/// The output as results keep it: whole when small, else a note and a preview.
pub(crate) fn capped(output: &Value, cap: usize) -> Value {
    if json_size(output) <= cap {
        return output.clone();
    }
    let text = output.to_string();
    let mut end = cap.min(text.len()).min(4096);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    serde_json::json!({
        "truncated": true,
        "bytes": text.len(),
        "note": format!("the output of {} bytes is over the result cap of {cap} bytes", text.len()),
        "preview": &text[..end],
    })
}

/// The length of `value` as compact JSON, counted without building the text (every step's output
/// is measured; few are over the cap).
fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Span;

    fn retry(backoff: Backoff, delay_ms: u64, max_ms: Option<u64>, jitter: bool) -> Retry {
        Retry {
            max_attempts: 10,
            delay: Duration::from_millis(delay_ms),
            backoff,
            max_delay: max_ms.map(Duration::from_millis),
            jitter,
            until: None,
            span: Span::default(),
        }
    }

    #[test]
    fn exponential_backoff_doubles_up_to_the_cap() {
        let r = retry(Backoff::Exponential, 100, Some(500), false);
        let pauses: Vec<u128> = (1..=5).map(|a| pause_before(&r, a).as_millis()).collect();
        assert_eq!(pauses, [100, 200, 400, 500, 500]);
        let fixed = retry(Backoff::Fixed, 100, None, false);
        assert_eq!(pause_before(&fixed, 4), Duration::from_millis(100));
    }

    #[test]
    fn jitter_stays_between_half_and_all_of_the_pause() {
        let r = retry(Backoff::Fixed, 1000, None, true);
        for _ in 0..100 {
            let pause = pause_before(&r, 1);
            assert!(pause >= Duration::from_millis(500) && pause <= Duration::from_millis(1000), "{pause:?}");
        }
    }

    #[test]
    fn large_outputs_are_capped_with_a_preview() {
        let big = serde_json::json!({"body": "x".repeat(10_000)});
        let capped = capped(&big, 1000);
        assert_eq!(capped["truncated"], true);
        assert_eq!(capped["bytes"], big.to_string().len());
        assert_eq!(capped["preview"].as_str().map(str::len), Some(1000));
        assert_eq!(super::capped(&serde_json::json!({"a": 1}), 1000), serde_json::json!({"a": 1}));
        assert_eq!(json_size(&big), big.to_string().len());
    }
}
