//! callvault store
