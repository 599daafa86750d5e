"""The procedural demo world: seeded, weakly-tagged videos and images with ground truth.

`mcnn.demo.writer.run(params, output)` writes it (see that module for the layout);
`mcnn.demo.world` plans and renders the scenes; `mcnn.demo.appearance` holds the looks.
"""
