//! Clients for cloud services that storage backends and KMS signers share: AWS's request
//! signing and credentials ([`aws`]), the credentials of Google's services ([`google`]) and of
//! Azure's ([`azure`]).

pub mod aws;
pub mod azure;
pub mod google;
