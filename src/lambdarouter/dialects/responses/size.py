"""How big a Responses request's prompt is, for the reservation made before the call (core/budget.py's rule:
UTF-8 bytes of the text, tool definitions and output schema; a fixed count per image and per item)."""

from __future__ import annotations

from lambdarouter.core.budget import PromptSize
from lambdarouter.dialects.responses.items import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InputImage,
    InputText,
    MessageItem,
    OutputText,
    ReasoningItem,
)
from lambdarouter.dialects.responses.reasoning import is_carried
from lambdarouter.dialects.responses.request import ResponsesRequest


def measure(request: ResponsesRequest) -> PromptSize:
    text: list[str] = [request.instructions or ""]
    images = 0
    items = request.items()
    for item in items:
        if isinstance(item, MessageItem | FunctionCallOutputItem):
            content = item.content if isinstance(item, MessageItem) else item.output
            for part in [content] if isinstance(content, str) else content:
                if isinstance(part, str | InputText | OutputText):
                    text.append(part if isinstance(part, str) else part.text)
                elif isinstance(part, InputImage):
                    images += 1
                else:  # files, refusals: their JSON (base64 included) bounds their tokens from above
                    text.append(part.model_dump_json(exclude_none=True))
        elif isinstance(item, FunctionCallItem):
            text.extend((item.name, item.arguments))
        elif isinstance(item, ReasoningItem):  # OpenAI bills its encrypted reasoning sent back as input
            text.extend([*(p.text for p in item.summary), *(p.text for p in item.content or ())])
            if not is_carried(item.encrypted_content):
                text.append(item.encrypted_content or "")
        else:
            text.append(item.model_dump_json(exclude_none=True))
    if request.tools or request.text:
        text.append(request.model_dump_json(include={"tools", "text"}, exclude_none=True))
    joined = "".join(text)
    return PromptSize(len(joined.encode()), len(joined), len(items) + bool(request.instructions), images)
