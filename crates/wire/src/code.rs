//! Result codes (PROTOCOL §2.3).
//!
//! 0..=30 are the vendor's table (19 does not exist there); 31..=38 are ours, numbered after
//! the point where the vendor's table is cut off.

use std::fmt;

/// One result code, as written in `RESULTCODE`, with its label for `RESULTTYPE`/`RESULTMSG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Code {
    RecordingStarted = 0,
    AlreadyRecording = 1,
    OutOfDiskSpace = 2,
    NoFreeChannels = 3,
    Unknown = 4,
    DeviceAliasUnspecified = 5,
    SchedulerNotRunning = 6,
    DeviceNotInCall = 7,
    DeviceInvalid = 8,
    DidNotMatchASchedule = 9,
    UnknownMessageType = 10,
    ErrorProcessingMessage = 11,
    DeviceNotRecording = 12,
    RecordingStopped = 13,
    RequestIdInvalid = 14,
    InvalidRequestType = 15,
    /// 16: not well-formed XML, bad encoding, a DTD, or a broken socket frame.
    InvalidMessageFormat = 16,
    /// 17: well-formed, but not a valid request shape (the vendor uses the same label as 16).
    InvalidMessageShape = 17,
    NoDefaultRecordingPath = 18,
    Ok = 20,
    InvalidAction = 21,
    KeysNotUnique = 22,
    DatabaseQueryError = 23,
    AgentNotFound = 24,
    AgentNotActive = 25,
    BlankRequiredValue = 26,
    NoGroup = 27,
    UserNotFound = 28,
    ModeInvalid = 29,
    EventTypeInvalid = 30,
    RecordingNotFound = 31,
    RoleNotFound = 32,
    PermissionInvalid = 33,
    MediaFormatInvalid = 34,
    SessionNotFound = 35,
    AccessDenied = 36,
    PartialCoreResponse = 37,
    DeliveryFailed = 38,
}

impl Code {
    /// Every code, in numeric order.
    pub const ALL: [Code; 38] = [
        Code::RecordingStarted,
        Code::AlreadyRecording,
        Code::OutOfDiskSpace,
        Code::NoFreeChannels,
        Code::Unknown,
        Code::DeviceAliasUnspecified,
        Code::SchedulerNotRunning,
        Code::DeviceNotInCall,
        Code::DeviceInvalid,
        Code::DidNotMatchASchedule,
        Code::UnknownMessageType,
        Code::ErrorProcessingMessage,
        Code::DeviceNotRecording,
        Code::RecordingStopped,
        Code::RequestIdInvalid,
        Code::InvalidRequestType,
        Code::InvalidMessageFormat,
        Code::InvalidMessageShape,
        Code::NoDefaultRecordingPath,
        Code::Ok,
        Code::InvalidAction,
        Code::KeysNotUnique,
        Code::DatabaseQueryError,
        Code::AgentNotFound,
        Code::AgentNotActive,
        Code::BlankRequiredValue,
        Code::NoGroup,
        Code::UserNotFound,
        Code::ModeInvalid,
        Code::EventTypeInvalid,
        Code::RecordingNotFound,
        Code::RoleNotFound,
        Code::PermissionInvalid,
        Code::MediaFormatInvalid,
        Code::SessionNotFound,
        Code::AccessDenied,
        Code::PartialCoreResponse,
        Code::DeliveryFailed,
    ];

    /// The number written in `RESULTCODE`.
    pub fn number(self) -> u32 {
        self as u32
    }

    /// The code with this number, if there is one (19 and anything over 38 are not codes).
    pub fn from_number(number: u32) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.number() == number)
    }

    /// The label, as the vendor spells it.
    pub fn label(self) -> &'static str {
        match self {
            Code::RecordingStarted => "API_RECORDING_STARTED",
            Code::AlreadyRecording => "API_ERROR_ALREADY_RECORDING",
            Code::OutOfDiskSpace => "API_ERROR_OUT_OF_DISK_SPACE",
            Code::NoFreeChannels => "API_ERROR_NO_FREE_CHANNELS",
            Code::Unknown => "API_ERROR_UNKNOWN",
            Code::DeviceAliasUnspecified => "API_DEVICE_ALIAS_UNSPECIFIED",
            Code::SchedulerNotRunning => "API_ERROR_SCHEDULER_NOT_RUNNING",
            Code::DeviceNotInCall => "API_DEVICE_NOT_IN_CALL",
            Code::DeviceInvalid => "API_DEVICE_INVALID",
            Code::DidNotMatchASchedule => "API_DID_NOT_MATCH_A_SCHEDULE",
            Code::UnknownMessageType => "API_UNKNOWN_MESSAGE_TYPE",
            Code::ErrorProcessingMessage => "API_ERROR_PROCESSING_MESSAGE",
            Code::DeviceNotRecording => "API_DEVICE_NOT_RECORDING",
            Code::RecordingStopped => "API_RECORDING_STOPPED",
            Code::RequestIdInvalid => "API_REQUESTID_INVALID",
            Code::InvalidRequestType => "API_INVALID_REQUEST_TYPE",
            Code::InvalidMessageFormat | Code::InvalidMessageShape => "API_INVALID_MESSAGE_FORMAT",
            Code::NoDefaultRecordingPath => "API_ERROR_NO_DEFAULT_RECORDING_PATH",
            Code::Ok => "API_OK",
            Code::InvalidAction => "API_ERROR_INVALID_ACTION",
            Code::KeysNotUnique => "API_ERROR_KEYS_NOT_UNIQUE",
            Code::DatabaseQueryError => "API_DATABASE_QUERY_ERROR",
            Code::AgentNotFound => "API_AGENT_NOT_FOUND",
            Code::AgentNotActive => "API_AGENT_NOT_ACTIVE",
            Code::BlankRequiredValue => "API_BLANK_REQUIRED_VALUE",
            Code::NoGroup => "API_NO_GROUP",
            Code::UserNotFound => "API_USER_NOT_FOUND",
            Code::ModeInvalid => "API_MODE_INVALID",
            Code::EventTypeInvalid => "API_EVENT_TYPE_INVALID",
            Code::RecordingNotFound => "API_RECORDING_NOT_FOUND",
            Code::RoleNotFound => "API_ROLE_NOT_FOUND",
            Code::PermissionInvalid => "API_PERMISSION_INVALID",
            Code::MediaFormatInvalid => "API_MEDIA_FORMAT_INVALID",
            Code::SessionNotFound => "API_SESSION_NOT_FOUND",
            Code::AccessDenied => "API_ACCESS_DENIED",
            Code::PartialCoreResponse => "API_PARTIAL_CORE_RESPONSE",
            Code::DeliveryFailed => "API_DELIVERY_FAILED",
        }
    }

    /// Whether this code reports success: then `RESULTTYPE` carries the label instead of `ERROR`.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Code::RecordingStarted | Code::RecordingStopped | Code::Ok
        )
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_distinct_in_order_and_skip_19() {
        let numbers: Vec<u32> = Code::ALL.iter().map(|c| c.number()).collect();
        let expected: Vec<u32> = (0..=38).filter(|n| *n != 19).collect();
        assert_eq!(numbers, expected);
        for code in Code::ALL {
            assert_eq!(Code::from_number(code.number()), Some(code));
        }
        assert_eq!(Code::from_number(19), None);
        assert_eq!(Code::from_number(39), None);
    }

    #[test]
    fn labels_and_success() {
        assert_eq!(Code::Ok.label(), "API_OK");
        assert_eq!(
            Code::InvalidMessageFormat.label(),
            "API_INVALID_MESSAGE_FORMAT"
        );
        assert_eq!(
            Code::InvalidMessageShape.label(),
            "API_INVALID_MESSAGE_FORMAT"
        );
        assert_eq!(Code::RequestIdInvalid.label(), "API_REQUESTID_INVALID");
        assert_eq!(Code::PartialCoreResponse.number(), 37);
        let successes: Vec<u32> = Code::ALL
            .iter()
            .filter(|c| c.is_success())
            .map(|c| c.number())
            .collect();
        assert_eq!(successes, vec![0, 13, 20]);
        for code in Code::ALL {
            assert!(code.label().starts_with("API_"));
        }
    }
}
