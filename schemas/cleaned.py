"""An article after the clean stage: display text split into paragraphs, credit lines set apart."""
from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from schemas.articles import Paragraph


class CleanedArticle(BaseModel):
    """`body` is the display text (paragraphs joined by a blank line, typographic characters kept);
    each paragraph's `start`/`end` point into it."""

    title: str
    body: str
    paragraphs: list[Paragraph] = Field(default_factory=list)
    credits: list[str] = Field(default_factory=list)  # credit lines taken out of the body, as written
    agencies: list[str] = Field(default_factory=list)  # canonical agency, publisher or site names

    @model_validator(mode="after")
    def _paragraphs_point_into_body(self) -> "CleanedArticle":
        # Later stages slice the body with these offsets: a wrong one must fail here, not there.
        for paragraph in self.paragraphs:
            if self.body[paragraph.start:paragraph.end] != paragraph.text:
                raise ValueError(f"paragraph offsets {paragraph.start}:{paragraph.end} do not match its text")
        return self
