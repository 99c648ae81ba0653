"""egogym's data layer: the HDF5 schema, writer, reader, overlays, statistics and tools.

- `schema`: the one declaration of the layout (keys, shapes, dtypes, format version);
- `writer.DemoWriter`: one demo at a time, SIGKILL-safe appends (`journal`), whole
  (`write_demo`) or streamed step by step (`begin_demo` -> `DemoStream`, memory bounded);
- `presets`: calibration presets for files without one (EgoMimic's published constants);
- `egomimic`: `egogym convert egomimic`, EgoMimic's files into this layout, losslessly;
- `export`: this layout back into EgoMimic's, for EgoMimic's tools;
- `reader.EgoDataset`: numpy samples (obs at t + chunks of 100 + pad mask) from egogym
  files and from EgoMimic's public files as they are;
- `overlay.mask_and_line`: the arm/hand mask and red line, shared by robot and human;
- `stats.NormStats`: per-domain normalization from the train split only;
- `collect`, `commands`, `inspect`: the `egogym collect | split | validate | stats | inspect` commands.
No torch import anywhere here.
"""
