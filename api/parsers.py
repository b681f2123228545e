"""JSON bodies that the rest of the API can take as they come."""

from __future__ import annotations

import json
from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """DRF's JSON parser (NaN and Infinity refused), where two more kinds of valid JSON text
    are refused as a parse error rather than failing later as a server error: nesting deeper
    than Python's recursion limit, and a string with an unpaired surrogate ("\\ud800"), which
    no database column can store."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
            json.dumps(data, ensure_ascii=False).encode()
        except RecursionError:
            raise ParseError(_("JSON parse error - nested too deeply.")) from None
        except UnicodeEncodeError:
            raise ParseError(
                _("JSON parse error - a string holds an unpaired surrogate (\\ud800 to \\udfff).")
            ) from None
        return data
