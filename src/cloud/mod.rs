//! Clients for cloud services that storage backends and KMS signers share: the credentials of
//! Google's services ([`google`]) and of Azure's ([`azure`]).

pub mod azure;
pub mod google;
