"""A small poster service built on fal: a portrait and a prompt in, a rendered poster out."""

from myapp.posters import ENDPOINT, Poster, PosterError, make_poster

__all__ = ["ENDPOINT", "Poster", "PosterError", "make_poster"]
