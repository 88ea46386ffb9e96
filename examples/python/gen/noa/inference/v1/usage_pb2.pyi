from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetUsageSummaryRequest(_message.Message):
    __slots__ = ["end_time", "start_time", "tenant"]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    end_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    tenant: str
    def __init__(self, start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., tenant: _Optional[str] = ...) -> None: ...

class GetUsageSummaryResponse(_message.Message):
    __slots__ = ["rows", "total"]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[UsageSummaryRow]
    total: UsageSummaryRow
    def __init__(self, rows: _Optional[_Iterable[_Union[UsageSummaryRow, _Mapping]]] = ..., total: _Optional[_Union[UsageSummaryRow, _Mapping]] = ...) -> None: ...

class UsageSummaryRow(_message.Message):
    __slots__ = ["api_key_id", "cached_requests", "completion_tokens", "cost_usd", "day", "model", "prompt_tokens", "requests"]
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CACHED_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    api_key_id: str
    cached_requests: int
    completion_tokens: int
    cost_usd: float
    day: str
    model: str
    prompt_tokens: int
    requests: int
    def __init__(self, day: _Optional[str] = ..., api_key_id: _Optional[str] = ..., model: _Optional[str] = ..., requests: _Optional[int] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., cached_requests: _Optional[int] = ...) -> None: ...
