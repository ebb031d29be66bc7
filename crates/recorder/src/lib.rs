//! callvault recorder
