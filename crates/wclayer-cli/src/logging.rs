//! Logs and tracing spans on standard error, and optionally over OpenTelemetry.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

/// What to flush when the command ends.
pub(crate) struct Guard {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

/// The levels `--log-level` takes, alone or after `TARGET=` in a directive.
const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// Checks a `--log-level` value: a level, or comma-separated directives `TARGET=LEVEL` (or
/// a level alone); anything else (`loud`) is refused rather than read as a target name.
pub(crate) fn parse_level(s: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "{s:?} is not a log level: use one of {} or TARGET=LEVEL directives",
            LEVELS.join(", ")
        )
    };
    if s.trim().is_empty() {
        return Err(bad());
    }
    for directive in s.split(',') {
        let level = directive
            .rsplit_once('=')
            .map_or(directive, |(_, l)| l)
            .trim();
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(bad());
        }
    }
    EnvFilter::try_new(s).map_err(|_| bad())?;
    Ok(s.to_string())
}

/// The log level `-q` and `-v` ask for: errors only, or info, debug and trace for one, two,
/// three `-v`; `None` for neither.
pub(crate) fn level_of_flags(quiet: bool, verbose: u8) -> Option<&'static str> {
    match (quiet, verbose) {
        (true, _) => Some("error"),
        (false, 0) => None,
        (false, 1) => Some("info"),
        (false, 2) => Some("debug"),
        (false, _) => Some("trace"),
    }
}

/// Installs the subscriber: `level` (from `--log-level`, `-q` or `-v`) wins over
/// `RUST_LOG`, which wins over the default, `warn`. With the `otel` feature and `OTEL_EXPORTER_OTLP_ENDPOINT` set,
/// spans are also exported over OTLP/HTTP.
pub(crate) fn init(level: Option<&str>) -> Guard {
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_filter(filter);
    // The level filters only what is printed: the OTLP exporter sees every span.
    let registry = tracing_subscriber::registry().with(fmt);
    #[cfg(feature = "otel")]
    {
        use opentelemetry::trace::TracerProvider as _;
        if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
            match opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .build()
            {
                Ok(exporter) => {
                    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                        .with_batch_exporter(exporter)
                        .build();
                    let tracer = provider.tracer("wclayer");
                    let otel = tracing_opentelemetry::layer()
                        .with_tracer(tracer)
                        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
                    let _ = registry.with(otel).try_init();
                    return Guard {
                        provider: Some(provider),
                    };
                }
                Err(e) => eprintln!("wclayer: warning: OTLP export disabled: {e}"),
            }
        }
        let _ = registry.try_init();
        Guard { provider: None }
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = registry.try_init();
        Guard {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_are_checked() {
        for ok in [
            "warn",
            "DEBUG",
            "wclayer=debug",
            "wclayer=debug,info",
            "off",
        ] {
            assert!(parse_level(ok).is_ok(), "{ok}");
        }
        for bad in ["loud", "", "wclayer=loud", "wclayer", "warn,loud"] {
            assert!(parse_level(bad).is_err(), "{bad}");
        }
        assert_eq!(level_of_flags(true, 2), Some("error"));
        assert_eq!(level_of_flags(false, 0), None);
        assert_eq!(level_of_flags(false, 1), Some("info"));
        assert_eq!(level_of_flags(false, 9), Some("trace"));
    }
}
