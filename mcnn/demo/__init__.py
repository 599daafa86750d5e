"""The procedural demo world: seeded, weakly-tagged videos and images with ground truth.

`mcnn.demo.writer.run(params, output)` writes it (see that module for the layout);
`mcnn.demo.plan` plans the videos and shots, `mcnn.demo.world` moves and renders them;
`mcnn.demo.appearance` holds the looks.
"""
