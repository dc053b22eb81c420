//! Entra ID service-to-service authentication: the credential (secret or
//! certificate assertion), the error mapping, and the token cache.

pub(crate) mod certificate;
pub(crate) mod entra;
pub(crate) mod token;

pub use certificate::ClientCertificate;
