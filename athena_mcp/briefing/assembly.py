"""The briefing service: gather, value, merge, fit and render, for the tool, the prompt, the resource
and the editor hooks alike."""

from __future__ import annotations

import time

from athena_mcp.briefing.candidates import CandidateGatherer
from athena_mcp.briefing.fitting import fit
from athena_mcp.briefing.models import Briefing, BriefingRequest


class BriefingService:
    def __init__(self, gatherer: CandidateGatherer) -> None:
        self._gatherer = gatherer

    async def brief(self, request: BriefingRequest, now: float | None = None) -> Briefing:
        """What the memory holds that bears on the request, in at most `request.max_tokens` tokens."""
        moment = time.time() if now is None else now
        candidates, notice = await self._gatherer.gather(request, moment)
        # The task is not echoed: the caller knows it, and every token of the budget is for memory.
        title = f"Memory briefing ({', '.join(request.namespaces)})"
        fitted = fit(candidates, request, title)
        if not fitted.sections:
            notice = (notice + ". " if notice else "") + "The memory holds nothing on this yet."
        return Briefing(
            namespaces=list(request.namespaces),
            task=request.task,
            sections=fitted.sections,
            text=fitted.text,
            tokens=fitted.tokens,
            budget=request.max_tokens,
            left_out=fitted.left_out,
            notice=notice,
        )
