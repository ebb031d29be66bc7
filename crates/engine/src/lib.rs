//! callvault engine
