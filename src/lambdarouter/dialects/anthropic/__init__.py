"""Anthropic's Messages API as an inbound dialect: `POST /messages` and `/messages/count_tokens`.

The request schema (`request`), Anthropic model names resolved through the catalog (`models`), the gateway's
events rendered as Messages answers and streams (`stream`), errors in Anthropic's own shape (`errors`), the
request translated for models that do not speak Messages (`translate`), and prompt sizes (`size`).
Reference: https://platform.claude.com/docs/en/api/messages.
"""
