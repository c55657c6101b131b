//! Clients for cloud services that storage backends (and later KMS signers) share: for now the
//! credentials of Google's services ([`google`]).

pub mod google;
