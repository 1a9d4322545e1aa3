"""The interactive demo (``rapsam-demo``): a page in the browser over the predictors, or over a
Triton server. ``inputs`` checks what visitors give, ``models`` computes results (local or
served), ``handlers`` is what each action does, ``app`` the gradio page, ``address`` where it
listens and ``browser`` headless Chromium over it (tests, screenshots). Only ``app`` and
``browser`` import gradio or Selenium (the demo and dev extras)."""
