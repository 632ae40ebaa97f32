-- AlterTable
ALTER TABLE "Post" ADD COLUMN "tags" TEXT NOT NULL DEFAULT '';

-- CreateIndex
CREATE INDEX "Post_authorId_idx" ON "Post"("authorId");
