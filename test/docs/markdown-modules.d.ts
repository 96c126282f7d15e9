/** A ts block of a markdown file, served as a module by markdownModules() (test/docs/markdown-blocks.fixture.ts). */
declare module 'markdown:*' {}
