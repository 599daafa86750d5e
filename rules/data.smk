# Data: the procedural demo world and the ingest of every dataset into a shot index.


rule demo_world:
    output:
        directory(config["demo_world"]["root"]),
    log:
        f"{LOGS}/demo_world.log",
    benchmark:
        f"{BENCHMARKS}/demo_world.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        settings=as_json(config["demo_world"]),
    shell:
        "python -m mcnn demo-world --params {params.settings:q} --output {output:q} > {log:q} 2>&1"


checkpoint ingest:
    input:
        demo_world_input,
    output:
        shots=f"{RESULTS}/index/{{dataset}}.shots.csv",
        boxes=f"{RESULTS}/index/{{dataset}}.boxes.csv",
        skipped=f"{RESULTS}/index/{{dataset}}.skipped.csv",
    log:
        f"{LOGS}/ingest/{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/ingest/{{dataset}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=config["resources"]["ingest_runtime"],
    params:
        settings=lambda w: as_json(dataset_config(w.dataset)),
        classes=as_json(config["classes"]),
    shell:
        "python -m mcnn ingest --name {wildcards.dataset} --params {params.settings:q}"
        " --classes {params.classes:q} --shots {output.shots:q} --boxes {output.boxes:q}"
        " --skipped {output.skipped:q} > {log:q} 2>&1"
