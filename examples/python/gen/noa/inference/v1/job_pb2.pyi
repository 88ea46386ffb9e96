from google.protobuf import timestamp_pb2 as _timestamp_pb2
from noa.inference.v1 import inference_pb2 as _inference_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
EXPORT_FORMAT_CSV: ExportFormat
EXPORT_FORMAT_JSONL: ExportFormat
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
JOB_PRIORITY_HIGH: JobPriority
JOB_PRIORITY_LOW: JobPriority
JOB_PRIORITY_MEDIUM: JobPriority
JOB_PRIORITY_UNSPECIFIED: JobPriority
JOB_STATE_ACTIVE: JobState
JOB_STATE_CANCELLED: JobState
JOB_STATE_COMPLETED: JobState
JOB_STATE_DEAD_LETTERED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RETRYING: JobState
JOB_STATE_UNSPECIFIED: JobState
NOTIFICATION_CHANNEL_EMAIL: NotificationChannel
NOTIFICATION_CHANNEL_SLACK: NotificationChannel
NOTIFICATION_CHANNEL_UNSPECIFIED: NotificationChannel
NOTIFICATION_CHANNEL_WEBHOOK: NotificationChannel

class CancelJobRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ["job"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ["job"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ["attempts", "callback_url", "correlation_id", "create_time", "error", "finish_time", "id", "idempotency_key", "max_attempts", "next_attempt_time", "priority", "progress", "result", "spec", "state", "update_time", "webhook_deliveries"]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_URL_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    attempts: int
    callback_url: str
    correlation_id: str
    create_time: _timestamp_pb2.Timestamp
    error: JobError
    finish_time: _timestamp_pb2.Timestamp
    id: str
    idempotency_key: str
    max_attempts: int
    next_attempt_time: _timestamp_pb2.Timestamp
    priority: JobPriority
    progress: float
    result: JobResult
    spec: JobSpec
    state: JobState
    update_time: _timestamp_pb2.Timestamp
    webhook_deliveries: _containers.RepeatedCompositeFieldContainer[WebhookDelivery]
    def __init__(self, id: _Optional[str] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., priority: _Optional[_Union[JobPriority, str]] = ..., state: _Optional[_Union[JobState, str]] = ..., progress: _Optional[float] = ..., attempts: _Optional[int] = ..., max_attempts: _Optional[int] = ..., result: _Optional[_Union[JobResult, _Mapping]] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., next_attempt_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., callback_url: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., webhook_deliveries: _Optional[_Iterable[_Union[WebhookDelivery, _Mapping]]] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., correlation_id: _Optional[str] = ...) -> None: ...

class JobError(_message.Message):
    __slots__ = ["code", "message", "retryable"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    retryable: bool
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., retryable: bool = ...) -> None: ...

class JobResult(_message.Message):
    __slots__ = ["inference", "notification", "usage_export"]
    INFERENCE_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    USAGE_EXPORT_FIELD_NUMBER: _ClassVar[int]
    inference: _inference_pb2.CompleteResponse
    notification: NotificationResult
    usage_export: UsageExportResult
    def __init__(self, inference: _Optional[_Union[_inference_pb2.CompleteResponse, _Mapping]] = ..., notification: _Optional[_Union[NotificationResult, _Mapping]] = ..., usage_export: _Optional[_Union[UsageExportResult, _Mapping]] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ["inference", "notification", "usage_export"]
    INFERENCE_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    USAGE_EXPORT_FIELD_NUMBER: _ClassVar[int]
    inference: _inference_pb2.CompleteRequest
    notification: NotificationJob
    usage_export: UsageExportJob
    def __init__(self, inference: _Optional[_Union[_inference_pb2.CompleteRequest, _Mapping]] = ..., notification: _Optional[_Union[NotificationJob, _Mapping]] = ..., usage_export: _Optional[_Union[UsageExportJob, _Mapping]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "state"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    state: JobState
    def __init__(self, state: _Optional[_Union[JobState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ["jobs", "next_page_token"]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class NotificationJob(_message.Message):
    __slots__ = ["body", "channel", "subject", "to"]
    BODY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    body: str
    channel: NotificationChannel
    subject: str
    to: str
    def __init__(self, channel: _Optional[_Union[NotificationChannel, str]] = ..., to: _Optional[str] = ..., subject: _Optional[str] = ..., body: _Optional[str] = ...) -> None: ...

class NotificationResult(_message.Message):
    __slots__ = ["channel", "status_code"]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    channel: NotificationChannel
    status_code: int
    def __init__(self, channel: _Optional[_Union[NotificationChannel, str]] = ..., status_code: _Optional[int] = ...) -> None: ...

class RetryJobRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RetryJobResponse(_message.Message):
    __slots__ = ["job"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ["callback_url", "idempotency_key", "priority", "spec"]
    CALLBACK_URL_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    callback_url: str
    idempotency_key: str
    priority: JobPriority
    spec: JobSpec
    def __init__(self, spec: _Optional[_Union[JobSpec, _Mapping]] = ..., priority: _Optional[_Union[JobPriority, str]] = ..., callback_url: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class SubmitJobResponse(_message.Message):
    __slots__ = ["deduplicated", "job"]
    DEDUPLICATED_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    deduplicated: bool
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., deduplicated: bool = ...) -> None: ...

class UsageExportJob(_message.Message):
    __slots__ = ["end_time", "format", "start_time"]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    end_time: _timestamp_pb2.Timestamp
    format: ExportFormat
    start_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., format: _Optional[_Union[ExportFormat, str]] = ...) -> None: ...

class UsageExportResult(_message.Message):
    __slots__ = ["content", "format", "record_count"]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    content: str
    format: ExportFormat
    record_count: int
    def __init__(self, format: _Optional[_Union[ExportFormat, str]] = ..., record_count: _Optional[int] = ..., content: _Optional[str] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class WatchJobResponse(_message.Message):
    __slots__ = ["job"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class WebhookDelivery(_message.Message):
    __slots__ = ["attempt", "delivered", "error", "status_code", "time"]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    delivered: bool
    error: str
    status_code: int
    time: _timestamp_pb2.Timestamp
    def __init__(self, attempt: _Optional[int] = ..., status_code: _Optional[int] = ..., error: _Optional[str] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., delivered: bool = ...) -> None: ...

class JobPriority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class NotificationChannel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
