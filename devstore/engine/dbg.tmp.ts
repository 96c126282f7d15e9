import { openSync, writeSync, closeSync, statSync, mkdtempSync } from 'node:fs'
import { openEngine } from './engine.ts'
import { many, proposed, revisionsOf } from './test-builders.ts'
const dir = mkdtempSync('/tmp/dbg-')
let e = await openEngine({ dataDir: dir, log: console.log })
await e.append('order-1', 'any', many(1))
await e.append('order-1', 'any', [proposed({ bytes: 100 })])
await e.close()
const f = dir + '/devstore.log'
const fd = openSync(f, 'r+'); writeSync(fd, Buffer.from('zz'), 0, 2, statSync(f).size - 20); closeSync(fd)
e = await openEngine({ dataDir: dir, log: console.log })
console.log(await revisionsOf(e, 'order-1'))
