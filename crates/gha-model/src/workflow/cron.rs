//! POSIX cron syntax as `on.schedule[].cron` accepts it.

/// Check a cron expression: five fields (minute, hour, day of month, month, day of week), each
/// a `*` or a comma list of values/ranges with optional `/step`; months and weekdays also by
/// three-letter name. Returns a message describing the first problem.
///
/// ```
/// use gha_model::workflow::validate_cron;
/// assert!(validate_cron("30 5 * * 1,3").is_ok());
/// assert!(validate_cron("*/15 0-6 1 JAN-MAR mon").is_ok());
/// assert!(validate_cron("61 * * * *").unwrap_err().contains("minute"));
/// assert!(validate_cron("* * * *").is_err());
/// ```
pub fn validate_cron(expr: &str) -> Result<(), String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "invalid CRON format \"{expr}\" in schedule event: expected 5 fields (minute, hour, day of month, month, day of week) but found {}",
            fields.len()
        ));
    }
    const MONTHS: &[&str] = &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let specs: [(&str, u32, u32, &[&str], u32); 5] = [
        ("minute", 0, 59, &[], 0),
        ("hour", 0, 23, &[], 0),
        ("day of month", 1, 31, &[], 0),
        ("month", 1, 12, MONTHS, 1),
        ("day of week", 0, 6, DAYS, 0),
    ];
    for (field, (name, lo, hi, names, name_base)) in fields.iter().zip(specs) {
        for part in field.split(',') {
            check_part(part, lo, hi, names, name_base).map_err(|why| {
                format!("invalid CRON format \"{expr}\" in schedule event: {name} field \"{field}\": {why}")
            })?;
        }
    }
    Ok(())
}

fn check_part(part: &str, lo: u32, hi: u32, names: &[&str], base: u32) -> Result<(), String> {
    let (range, step) = match part.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (part, None),
    };
    if let Some(step) = step {
        let n: u32 = step
            .parse()
            .map_err(|_| format!("step \"{step}\" is not a number"))?;
        if n == 0 {
            return Err("step must be at least 1".to_owned());
        }
    }
    if range == "*" {
        return Ok(());
    }
    let value = |s: &str| -> Result<u32, String> {
        if let Ok(n) = s.parse::<u32>() {
            // 7 is Sunday too in most cron dialects.
            let max = if names.len() == 7 { 7 } else { hi };
            if n < lo || n > max {
                return Err(format!("value {n} is out of range {lo}-{hi}"));
            }
            return Ok(n);
        }
        let lower = s.to_ascii_lowercase();
        match names.iter().position(|n| *n == lower) {
            Some(i) => Ok(i as u32 + base),
            None => Err(format!("\"{s}\" is not a valid value")),
        }
    };
    match range.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("range {a}-{b} is backwards"));
            }
        }
        None => {
            value(range)?;
        }
    }
    Ok(())
}
