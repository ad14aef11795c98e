package query

// ExportChunk lets tests make an export take several COPYs.
var ExportChunk = &exportChunk
