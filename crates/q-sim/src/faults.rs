//! Fault injection for Q's operations: [`aws_sim::faults`] with what Q's
//! route table says each operation may answer.

pub use aws_sim::faults::{Effect as GenericEffect, FaultError, FaultModel, FaultSpec};

use crate::error::QError;

/// What a fault does to a Q call.
pub type Effect = GenericEffect<QError>;

/// Active faults of a Q emulator.
pub type Faults = aws_sim::faults::Faults<QError>;

/// Q's operations as the fault table sees them.
pub struct QModel;

impl FaultModel<QError> for QModel {
    fn serves(&self, operation: &str) -> bool {
        crate::routes::routes()
            .iter()
            .any(|r| r.operation == operation)
    }

    fn modeled_error(
        &self,
        operation: &str,
        status: Option<u16>,
        error: Option<&str>,
    ) -> Option<QError> {
        // Q's error shapes each have their own status: the status names it.
        let e = QError::from_status(status?, operation)?;
        let ok = crate::routes::allows_error(operation, e.type_name())
            && error.is_none_or(|name| name == e.type_name());
        ok.then_some(e)
    }

    fn throttling(&self, _operation: &str) -> QError {
        QError::Throttling("Rate exceeded".into())
    }

    fn is_throttling(&self, e: &QError) -> bool {
        matches!(e, QError::Throttling(_))
    }

    fn partial_failure_operations(&self) -> &[&str] {
        &["BatchPutDocument", "BatchDeleteDocument"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unmodeled_status() {
        let mut f = Faults::default();
        let mut s = FaultSpec::new("status", Some("ListDocuments"));
        s.status = Some(402);
        assert!(matches!(
            f.add(s.clone(), &QModel),
            Err(FaultError::NotModeled { .. })
        ));
        s.operation = Some("BatchPutDocument".into());
        f.add(s, &QModel).unwrap();
        assert!(matches!(
            f.take("BatchPutDocument")[..],
            [Effect::Fail(QError::QuotaExceeded { .. })]
        ));
        assert!(f.take("BatchPutDocument").is_empty());
        let p = FaultSpec {
            fail_documents: Some(1),
            ..FaultSpec::new("partial_failure", Some("ListDocuments"))
        };
        assert!(f.add(p, &QModel).is_err());
    }
}
