import FuzzChecks
import FuzzDriver

runFuzzer(.archiveMarks)
