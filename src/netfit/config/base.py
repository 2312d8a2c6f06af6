"""What every config section shares: unknown keys are errors, and import paths name your own code."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from netfit.plugins import check_import_path, import_path_of

# `package.module:name` of your own module, loss or metric; in Python a class or function becomes its path
ImportPath = Annotated[str, BeforeValidator(import_path_of), AfterValidator(check_import_path)]


class Section(BaseModel):
    """A config section: an unknown key is an error (with the closest valid key), never ignored."""

    model_config = ConfigDict(extra="forbid")
