import { writeLog } from '../../bench/devstore-restart.bench.ts'
console.log(writeLog('/tmp/rb', 1_000_000))
