//! callvault capture
