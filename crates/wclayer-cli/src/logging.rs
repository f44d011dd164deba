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

/// Installs the subscriber: `level` (from `--log-level`) wins over `RUST_LOG`, which wins
/// over the default, `warn`. With the `otel` feature and `OTEL_EXPORTER_OTLP_ENDPOINT` set,
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
