"""The drawing tools the problem types' figures share: a small SVG writer, the
computational-graph layout and figure, and the conv strips. Each problem type draws
its own figure with them (ProblemType.figure); the exports only place the SVG."""
