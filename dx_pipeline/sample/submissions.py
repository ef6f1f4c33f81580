def write_submissions(out, registry, profiles, quarters, seed): return []
